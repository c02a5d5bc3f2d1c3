"""The provenance digest (:mod:`metaxy.versioning.digest`) as one aggregate query over stored rows."""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot.expressions as exp

from metaxy.versioning.digest import DIGEST_COLUMNS, DIGEST_SLICES
from metaxy.versioning.hashing import HashAlgorithm, HashSettings
from metaxy.versioning.sql.dialects import SQLDialect
from metaxy.versioning.sql.engine import col

_MD5 = HashSettings(HashAlgorithm.MD5, None)


def digest_query(dialect: SQLDialect, rows: exp.Select, ids: Sequence[str]) -> exp.Select:
    """Row count and the two hash sums over ``rows`` (latest live rows, filtered), in one SELECT.

    The result has the columns ``rows``, ``h0`` and ``h1`` (sums are NULL over no rows).
    """
    source = rows.subquery("__mx_digest_rows")
    parts = [dialect.to_text(col(i, "__mx_digest_rows")) for i in ids]
    parts += [col(c, "__mx_digest_rows") for c in DIGEST_COLUMNS]
    hashed = dialect.hash(dialect.concat(parts), _MD5)
    sums = [
        exp.alias_(
            dialect.to_int64(
                exp.Sum(
                    this=dialect.hex_to_int(
                        exp.Substring(
                            this=hashed.copy(),
                            start=exp.Literal.number(start + 1),
                            length=exp.Literal.number(length),
                        )
                    )
                )
            ),
            f"h{i}",
        )
        for i, (start, length) in enumerate(DIGEST_SLICES)
    ]
    count = exp.alias_(dialect.to_int64(exp.Count(this=exp.Star())), "rows")
    return dialect.finalize(exp.select(count, *sums).from_(source))

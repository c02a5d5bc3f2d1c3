"""The provenance digest: one order-independent fingerprint of a feature's stored samples.

Recipe (every engine computes exactly this; a golden test compares them):

1. per sample (latest live row of the feature version): the text
   ``<id 1>|<id 2>|...|<metaxy_provenance>|<metaxy_data_version>`` (ids as text, NULL as ``""``);
2. its md5 in lowercase hex; hex digits 1-8 and 9-16 read as two unsigned 32-bit integers;
3. over the samples: the row count and the two sums of those integers (plain sums, so row order does
   not matter and two equal samples do not cancel out, as they would with a xor);
4. the digest is the md5 hex of ``"<rows>|<sum 1>|<sum 2>"``.

Changing, adding or removing any sample changes the digest (up to a 2**-64 accident); re-writing the
same samples (a no-op run, a copy to another store) keeps it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
import polars_hash  # noqa: F401  (registers the .nchash namespace)

from metaxy.constants import DATA_VERSION, PROVENANCE
from metaxy.versioning.hashing import SEPARATOR

#: the columns hashed after the ids
DIGEST_COLUMNS = (PROVENANCE, DATA_VERSION)
#: hex digits of the row hash read as each summed integer: (start, length)
DIGEST_SLICES = ((0, 8), (8, 8))


@dataclass(frozen=True)
class DigestSums:
    """The aggregates a store computes: row count and the two sums of per-row hash integers."""

    rows: int
    high: int
    low: int

    def render(self) -> str:
        """The digest: md5 hex of ``"<rows>|<high>|<low>"``."""
        text = SEPARATOR.join(str(v) for v in (self.rows, self.high, self.low))
        return hashlib.md5(text.encode()).hexdigest()


def row_text(ids: Sequence[str]) -> pl.Expr:
    """The Polars expression of step 1 for rows holding ``ids`` and the digest columns."""
    parts = [pl.col(c).cast(pl.String).fill_null("") for c in (*ids, *DIGEST_COLUMNS)]
    return pl.concat_str(parts, separator=SEPARATOR)


def digest_sums(rows: pl.LazyFrame, ids: Sequence[str]) -> DigestSums:
    """Steps 1-3 in Polars over the stored rows (already latest, live and filtered)."""
    hashed = row_text(ids).nchash.md5()  # type: ignore[attr-defined]
    halves = [
        hashed.str.slice(start, length).str.to_integer(base=16).cast(pl.Int64).sum().alias(f"h{i}")
        for i, (start, length) in enumerate(DIGEST_SLICES)
    ]
    out = rows.select(pl.len().cast(pl.Int64).alias("rows"), *halves).collect()
    return DigestSums(int(out["rows"][0]), int(out["h0"][0] or 0), int(out["h1"][0] or 0))


def digest_text_reference(values: Sequence[Sequence[object]]) -> str:
    """Pure-Python oracle: ``values`` are rows of (ids..., provenance, data_version); for tests."""
    rows, high, low = 0, 0, 0
    for row in values:
        text = SEPARATOR.join("" if v is None else str(v) for v in row)
        hexed = hashlib.md5(text.encode()).hexdigest()
        rows, high, low = rows + 1, high + int(hexed[0:8], 16), low + int(hexed[8:16], 16)
    return DigestSums(rows, high, low).render()

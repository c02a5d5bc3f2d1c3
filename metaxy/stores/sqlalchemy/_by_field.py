"""Reading ``*_by_field`` JSON columns field by field: the database extracts each field as text and
Polars packs the fields back into the struct.

Decoding every row's JSON in Polars took ~0.7 s per million rows, and PostgreSQL's output of ``jsonb``
as text costs more than extracting its fields. Every write checks a ``*_by_field`` column against its
feature version's fields, so one stored value per feature version tells which fields to extract.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl
import sqlglot.expressions as exp

from metaxy.constants import FEATURE_VERSION
from metaxy.versioning.sql import SQLDialect, SQLTable
from metaxy.versioning.sql.dialects import bound
from metaxy.versioning.sql.engine import col, ident

#: a read spanning more feature versions than this decodes the JSON in Polars instead of asking for
#: one stored value per version
MAX_VERSIONS = 8

Fetch = Callable[[exp.Expr], pl.DataFrame]


def read_versions(fetch: Fetch, table: SQLTable) -> list[str] | None:
    """The feature versions ``table``'s read spans; None when they are more than :data:`MAX_VERSIONS`
    or the read does not return them (rows of a version written after this lookup must be told apart)."""
    if table.feature_version is not None:
        return [table.feature_version]
    if FEATURE_VERSION not in table.columns:
        return None
    distinct = exp.select(col(FEATURE_VERSION)).distinct().from_(table.ref()).limit(MAX_VERSIONS + 1)
    versions = fetch(distinct).get_column(FEATURE_VERSION).to_list()
    return versions if len(versions) <= MAX_VERSIONS else None


def stored_fields(fetch: Fetch, table: SQLTable, column: str, versions: Sequence[str]) -> list[str] | None:
    """The fields of the struct ``column`` holds in ``versions``, sorted (their union: as JSON decoding
    finds, a field a row lacks reads null); None unless every one is a string."""
    fields: set[str] = set()
    present = exp.Not(this=exp.Is(this=col(column), expression=exp.Null()))
    for version in versions:
        of_version = exp.EQ(this=col(FEATURE_VERSION), expression=bound(version))
        one = fetch(exp.select(col(column)).from_(table.ref()).where(present, of_version).limit(1))
        if not one.height:
            continue
        dtype = one.schema[column]
        if not isinstance(dtype, pl.Struct) or any(f.dtype != pl.String for f in dtype.fields):
            return None
        fields.update(f.name for f in dtype.fields)
    return sorted(fields) or None


def field_by_field(
    dialect: SQLDialect, columns: Sequence[str], structs: dict[str, list[str]], *, null_flags: bool
) -> tuple[list[exp.Expr], list[pl.Expr], pl.Expr]:
    """The projection fetching ``columns`` with each struct of ``structs`` as its fields (text), the
    Polars expressions giving the columns back as read, and one telling the rows whose struct they
    cannot tell from a struct of nulls.

    Without ``null_flags``, a NULL struct reads as a struct of null fields: rows whose every field
    is null are then unclear (metaxy writes no NULL ``*_by_field`` value, so a read finds few or
    none). With them, each struct also comes with a NULL flag, one more column per row, and a NULL
    struct stays NULL (no row is unclear).
    """
    projection: list[exp.Expr] = []
    packed: list[pl.Expr] = []
    unclear: list[pl.Expr] = []
    for name in columns:
        if name not in structs:
            projection.append(col(name))
            packed.append(pl.col(name))
            continue
        parts = []
        for field in structs[name]:
            part = f"__mx_part{len(projection)}"  # positional: a field name may not fit an identifier
            projection.append(exp.alias_(dialect.struct_field(col(name), field), ident(part)))
            parts.append(pl.col(part).alias(field))
        struct = pl.struct(parts)
        if null_flags:
            is_null = f"__mx_part{len(projection)}"
            projection.append(exp.alias_(exp.Is(this=col(name), expression=exp.Null()), ident(is_null)))
            dtype = pl.Struct(dict.fromkeys(structs[name], pl.String))
            struct = pl.when(pl.col(is_null).cast(pl.Boolean)).then(pl.lit(None, dtype)).otherwise(struct)
        else:
            unclear.append(pl.all_horizontal(p.is_null() for p in parts))
        packed.append(struct.alias(name))
    return projection, packed, pl.any_horizontal(unclear) if unclear else pl.lit(False)

"""One place that adapts tables written by other metaxy versions to this version's column layout.

Tables written by Metaxy 0.1.11 with its defaults already match (same system columns, Struct
``*_by_field`` columns, microsecond UTC timestamps). Older or differently configured writers may lack
columns or use other timestamp types; those differences are bridged here, lazily, from the schema.
"""

from __future__ import annotations

import polars as pl

from metaxy.constants import (
    CREATED_AT,
    DATA_VERSION,
    DATA_VERSION_BY_FIELD,
    DELETED_AT,
    MATERIALIZATION_ID,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    TIMESTAMP_COLUMNS,
    UPDATED_AT,
)
from metaxy.stores.schema_rule import TIMESTAMP

#: a missing column -> how to derive it from the columns every metaxy table has
_DERIVED = {
    DATA_VERSION_BY_FIELD: pl.col(PROVENANCE_BY_FIELD),  # no data-version override was ever written
    DATA_VERSION: pl.col(PROVENANCE),
    CREATED_AT: pl.col(UPDATED_AT),
    DELETED_AT: pl.lit(None, dtype=TIMESTAMP),  # no soft deletes before the column existed
    MATERIALIZATION_ID: pl.lit(None, dtype=pl.String),
}


def normalize_stored(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Stored rows in this version's layout: derive missing system columns, unify timestamp types."""
    schema = lf.collect_schema()
    if PROVENANCE_BY_FIELD not in schema or UPDATED_AT not in schema:
        return lf  # not a metaxy table: nothing to adapt
    exprs = [_timestamp(name, schema[name]) for name in TIMESTAMP_COLUMNS if name in schema]
    exprs = [e for e in exprs if e is not None]
    if exprs:
        lf = lf.with_columns(exprs)
    missing = {name: expr.alias(name) for name, expr in _DERIVED.items() if name not in schema}
    if missing:
        # in dependency order: CREATED_AT reads UPDATED_AT, which exists and is already unified
        lf = lf.with_columns(list(missing.values()))
    return lf


def _timestamp(name: str, dtype: pl.DataType) -> pl.Expr | None:
    """Cast one timestamp column to microsecond UTC; naive values are taken as UTC."""
    if dtype == TIMESTAMP:
        return None
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        col = col.dt.replace_time_zone("UTC")
    return col.cast(TIMESTAMP).alias(name)

"""Checks and conversions for user frames entering the versioning layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import polars as pl

from metaxy.constants import PROVENANCE_BY_FIELD
from metaxy.exceptions import SchemaError
from metaxy.models.plan import FeaturePlan
from metaxy.models.spec import FeatureSpec

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: What the store API accepts as a frame: Polars (eager or lazy), pandas, an Arrow table, or a dict
#: of columns.
FrameLike: TypeAlias = "pl.DataFrame | pl.LazyFrame | pd.DataFrame | pa.Table | Mapping[str, Sequence[Any]]"


def to_polars(df: FrameLike, *, where: str) -> pl.DataFrame:
    """Accept a Polars (lazy) frame, a pandas frame, an Arrow table or a dict of columns."""
    if isinstance(df, pl.DataFrame):
        return df
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    if isinstance(df, dict):
        return pl.DataFrame(df)
    module = type(df).__module__.split(".")[0]
    if module == "pandas":
        return pl.from_pandas(df)
    if module == "pyarrow":
        converted = pl.from_arrow(df)
        if isinstance(converted, pl.DataFrame):
            return converted
    raise SchemaError(
        f"{where}: cannot read a {type(df).__module__}.{type(df).__name__} as a frame.",
        hint="Pass a Polars DataFrame/LazyFrame, a pandas DataFrame or a pyarrow Table.",
    )


def check_ids(df: pl.DataFrame, spec: FeatureSpec, *, where: str, unique: bool = True) -> None:
    """Every id column is present and non-null; with ``unique``, no id appears twice."""
    ids = list(spec.id_columns)
    missing = [c for c in ids if c not in df.columns]
    if missing:
        raise SchemaError(
            f"{where}: id column(s) {missing} missing (columns present: {df.columns}).",
            hint=f"Feature {spec.key.to_string()!r} is identified by {ids}; add them to the frame.",
        )
    nulls = [c for c in ids if df[c].null_count()]
    if nulls:
        raise SchemaError(
            f"{where}: id column {nulls[0]!r} has {df[nulls[0]].null_count()} null value(s).",
            hint="Every sample needs a complete id; drop or fill those rows.",
        )
    if unique and df.height:
        dupes = df.select(ids).filter(pl.struct(ids).is_duplicated())
        if dupes.height:
            example = dupes.row(0, named=True)
            raise SchemaError(
                f"{where}: {dupes.height} rows share an id, e.g. {example}.",
                hint="Write one row per sample; deduplicate the frame first.",
            )


def check_by_field(
    df: pl.DataFrame, plan: FeaturePlan, column: str = PROVENANCE_BY_FIELD, *, where: str
) -> None:
    """``column`` is a struct of strings with exactly one entry per field of the feature."""
    expected = sorted(f.key.to_struct_name() for f in plan.fields)
    hint = f"Give {column!r} as a struct with string fields {expected}, e.g. pl.struct(...)."
    if column not in df.columns:
        raise SchemaError(f"{where}: column {column!r} is missing.", hint=hint)
    dtype = df.schema[column]
    if not isinstance(dtype, pl.Struct):
        raise SchemaError(f"{where}: column {column!r} is {dtype}, not a struct.", hint=hint)
    names = sorted(f.name for f in dtype.fields)
    if names != expected:
        raise SchemaError(f"{where}: {column!r} has fields {names}, expected {expected}.", hint=hint)
    wrong = [f.name for f in dtype.fields if f.dtype not in (pl.String, pl.Null)]
    if wrong:
        raise SchemaError(f"{where}: {column!r} field {wrong[0]!r} is not a string.", hint=hint)
    if df.height and df[column].struct.unnest().null_count().sum_horizontal().item():
        raise SchemaError(f"{where}: {column!r} has null versions.", hint=hint)

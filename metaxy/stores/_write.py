"""Preparing a user frame for an append: checks, provenance where missing, and the system columns."""

from __future__ import annotations

import uuid
from datetime import datetime

import polars as pl

from metaxy.constants import (
    CREATED_AT,
    DATA_VERSION,
    DATA_VERSION_BY_FIELD,
    DELETED_AT,
    FEATURE_VERSION,
    MATERIALIZATION_ID,
    PROJECT_VERSION,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    UPDATED_AT,
)
from metaxy.exceptions import SchemaError
from metaxy.models.graph import FeatureGraph
from metaxy.models.plan import FeaturePlan
from metaxy.stores.schema_rule import (
    TIMESTAMP,
    StorageTypes,
    check_column_names,
    check_system_columns,
    conform,
    to_storage,
)
from metaxy.versioning.frames import check_by_field, check_ids
from metaxy.versioning.hashing import HashSettings
from metaxy.versioning.lineage import versioning_keys
from metaxy.versioning.polars_engine import PolarsEngine


def prepare_write(
    plan: FeaturePlan,
    df: pl.DataFrame,
    graph: FeatureGraph,
    *,
    settings: HashSettings,
    now: datetime,
    where: str,
) -> pl.DataFrame:
    """``df`` checked and completed with every system column, stamped ``now``."""
    check_system_columns(df, where=where)
    check_ids(df, plan.spec, where=where)
    check_by_field(df, plan, where=where)
    engine = PolarsEngine(settings)
    lf = df.lazy()
    if PROVENANCE not in df.columns:
        lf = engine.with_provenance(lf, plan)
    if DATA_VERSION_BY_FIELD in df.columns:
        check_by_field(df, plan, DATA_VERSION_BY_FIELD, where=where)
    else:
        lf = lf.with_columns(pl.col(PROVENANCE_BY_FIELD).alias(DATA_VERSION_BY_FIELD))
    if DATA_VERSION not in df.columns:
        names = [f.key.to_struct_name() for f in plan.fields]
        values = [pl.col(DATA_VERSION_BY_FIELD).struct.field(n) for n in names]
        lf = engine.combine(lf, values, DATA_VERSION)
    defaults = {
        FEATURE_VERSION: pl.lit(plan.feature_version),
        PROJECT_VERSION: pl.lit(graph.project_version()),
        CREATED_AT: pl.lit(now, dtype=TIMESTAMP),
        UPDATED_AT: pl.lit(now, dtype=TIMESTAMP),
        DELETED_AT: pl.lit(None, dtype=TIMESTAMP),
        MATERIALIZATION_ID: pl.lit(uuid.uuid4().hex),
    }
    lf = lf.with_columns(**{name: expr for name, expr in defaults.items() if name not in df.columns})
    # timestamps always reflect this write, so latest-row-wins holds for re-stamped rows too
    return lf.with_columns(pl.lit(now, dtype=TIMESTAMP).alias(UPDATED_AT)).collect()


def attach_provenance(
    plan: FeaturePlan, frame: pl.DataFrame, expected: pl.LazyFrame, *, where: str
) -> pl.DataFrame:
    """``frame`` (a non-root feature's samples) with the provenance its upstream gives each sample.

    Raises:
        SchemaError: a sample has no upstream rows to version it from.
    """
    check_ids(frame, plan.spec, where=where)
    keys = versioning_keys(plan)
    versions = expected.select(*keys, PROVENANCE_BY_FIELD, PROVENANCE)
    own = [c for c in frame.columns if c not in (PROVENANCE_BY_FIELD, PROVENANCE)]
    joined = frame.lazy().select(own).join(versions, on=keys, how="left").collect()
    orphans = joined[PROVENANCE].null_count()
    if orphans:
        raise SchemaError(
            f"{where}: {orphans} sample(s) have no upstream rows to version them from.",
            hint="Only write samples present upstream (see resolve_update(...).new).",
        )
    return joined


def conform_append(
    frame: pl.DataFrame,
    stored: pl.Schema | None,
    storage_type: StorageTypes,
    *,
    max_name_bytes: int | None,
    plain_names: bool,
    where: str,
) -> pl.DataFrame:
    """``frame`` as the backend will store it, under the append-schema rule (:mod:`~metaxy.stores.schema_rule`).

    Column names are checked against the backend's limits (``plain_names``: no quotes or control
    characters, for stores that write names into SQL text), each type is mapped to what the backend
    holds (``storage_type``), then the frame meets the ``stored`` schema (None before the first write).
    """
    check_column_names(frame.columns, max_bytes=max_name_bytes, plain=plain_names, where=where)
    frame = to_storage(frame, storage_type, where=where)
    return conform(frame, stored, where=where)

"""Spark in, Spark out: the increment as Spark DataFrames, and a Spark DataFrame versioned and written,
without collecting rows to the driver.

Both run the shared SQL engine's query (the one ``resolve_update`` runs) as a Spark DataFrame, and
finish in Spark what :meth:`SQLEngine.split` and the write path do in Polars.
"""

from __future__ import annotations

import functools
import operator
import uuid
from typing import TYPE_CHECKING, Any

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
from metaxy.exceptions import (
    FilterPushdownError,
    MissingSamplesError,
    PolarsFallbackWarning,
    SchemaError,
    StoreError,
)
from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.models.graph import FeatureGraph
from metaxy.models.plan import FeaturePlan
from metaxy.stores._drivers import import_driver
from metaxy.stores._logging import warn_at_caller
from metaxy.stores._read import Filters, as_filters
from metaxy.stores._resolve import _use_native, locate_upstream
from metaxy.stores._shard import ShardSpec, with_shard
from metaxy.stores.spark.schema import polars_schema
from metaxy.stores.spark.store import to_arrow
from metaxy.versioning.increment import Increment
from metaxy.versioning.lineage import expands, versioning_keys
from metaxy.versioning.sql import SQLEngine, to_sql_condition
from metaxy.versioning.sql.engine import CURRENT_PREFIX, NEW, ORPHANED, STALE, TAG, col, field_column

if TYPE_CHECKING:
    from metaxy.stores.spark.store import SparkMetadataStore


def quoted(name: str) -> str:
    """A column name as Spark's ``col()`` reads it literally (dots and backquotes included)."""
    return "`" + name.replace("`", "``") + "`"


def resolve_in_spark(
    store: SparkMetadataStore, feature: FeatureLike, *, filters: Filters = None, shard: ShardSpec = None
) -> Increment[Any]:
    """The increment of ``feature`` as three Spark DataFrames over one resolution query.

    When the query cannot run in Spark (an upstream lives in a fallback store, a filter Spark SQL
    cannot run, the Polars engine chosen), the increment is computed by ``resolve_update`` and handed
    over as Spark DataFrames, with a :class:`PolarsFallbackWarning`.

    Raises:
        MissingSamplesError: ``feature`` is a root feature (its samples come from the caller).
    """
    store.require_open()
    key, graph = resolve_feature(feature)
    plan = graph.plan(key)
    where = store._where(key)
    if plan.is_root:
        raise MissingSamplesError(
            f"{where}: {key.to_string()!r} is a root feature, so its samples are unknown to Spark.",
            hint="Resolve it with resolve_update(samples=...), or write its samples with write_spark.",
        )
    exprs = with_shard(as_filters(filters, where=where), shard, key, graph, where=where)
    holders = locate_upstream(store, plan, graph)
    query = None
    if not any(h.empty for h in holders.values()) and _use_native(store, plan, holders):
        versions = {k: graph.feature_version(k) for k in holders}
        tables = store._resolution_tables(plan, versions)
        try:
            conditions = [to_sql_condition(f, store.dialect) for f in exprs]
            if tables is not None:
                engine = SQLEngine(store.dialect, store.hash_settings)
                query = engine.resolve_query(plan, tables, conditions)
        except FilterPushdownError as exc:
            warn_at_caller(
                f"{where}: {exc.message} Computing the increment with Polars.", PolarsFallbackWarning
            )
    if query is None:
        return _handed_over(store, feature, filters, shard)
    return split(plan, store.sql_frame(query))


def _handed_over(
    store: SparkMetadataStore, feature: FeatureLike, filters: Filters, shard: ShardSpec
) -> Increment[Any]:
    increment = store.resolve_update(feature, filters=filters, shard=shard)
    if store.versioning_engine != "polars":
        warn_at_caller(
            f"{store.name}: the increment of {resolve_feature(feature)[0].to_string()!r} was computed by "
            "Polars in the driver and handed to Spark.",
            PolarsFallbackWarning,
        )
    session = store.spark
    parts = [session.createDataFrame(to_arrow(frame)) for frame in increment]
    return Increment(*parts)


def split(plan: FeaturePlan, rows: Any) -> Increment[Any]:
    """Split the tagged rows of the resolution query (a Spark DataFrame) like :meth:`SQLEngine.split`."""
    functions = import_driver("pyspark.sql.functions", "spark")
    names = [f.key.to_struct_name() for f in plan.fields]
    flat = {field_column(n) for n in names}
    current = [c for c in rows.columns if c.startswith(CURRENT_PREFIX)]
    plain = [c for c in rows.columns if c not in (TAG, PROVENANCE) and c not in current and c not in flat]
    struct = functions.struct(*[functions.col(quoted(field_column(n))).alias(n) for n in names])
    expected = [
        *(functions.col(quoted(c)) for c in plain),
        struct.alias(PROVENANCE_BY_FIELD),
        functions.col(PROVENANCE),
    ]
    tag = functions.col(TAG)
    new = rows.where(tag == NEW).select(*expected)
    stale = rows.where(tag == STALE).select(*expected)
    keys = versioning_keys(plan)
    if expands(plan):  # one row per stored child of a stale parent: keep one per parent
        stale = stale.dropDuplicates(keys)
    if current:
        orphaned = rows.where(tag == ORPHANED).select(
            *(functions.col(quoted(c)).alias(c.removeprefix(CURRENT_PREFIX)) for c in current)
        )
    else:
        orphaned = new.select(*(functions.col(quoted(k)) for k in keys)).limit(0)
    return Increment(new, stale, orphaned)


def write_in_spark(store: SparkMetadataStore, feature: FeatureLike, frame: Any) -> Any:
    """Version ``frame``'s samples, add the system columns and append them, all in Spark.

    Raises:
        SchemaError: a sample has no upstream rows, an id is null or repeated, or a system column
            has the wrong type.
        StoreError: the store records materializations in a catalog (use ``write_metadata``).
    """
    store.require_writable("write metadata")
    key, graph = resolve_feature(feature)
    plan = graph.plan(key)
    where = store._where(key)
    if store.catalog is not None:
        raise StoreError(
            f"{where}: write_spark does not register materializations in the store's catalog.",
            hint="Write through calculate_and_write_data_versions or write_metadata when a catalog is set.",
        )
    functions = import_driver("pyspark.sql.functions", "spark")
    _check_ids(plan, frame, where)
    if not plan.is_root:
        frame = _with_provenance(store, plan, graph, frame, where)
    elif PROVENANCE_BY_FIELD not in frame.columns:
        raise SchemaError(
            f"{where}: a root feature's samples need a {PROVENANCE_BY_FIELD!r} struct column.",
            hint="Add the struct of each field's provenance (see write_metadata).",
        )
    frame = _with_system_columns(store, plan, graph.project_version(), frame, functions)
    frame = _conformed(store, key, frame, where)
    store._append_frame(key, frame)
    return frame


def _check_ids(plan: FeaturePlan, frame: Any, where: str) -> None:
    """Ids present, non-null and unique within the write: one aggregation job."""
    functions = import_driver("pyspark.sql.functions", "spark")
    ids = list(plan.spec.id_columns)
    missing = [c for c in ids if c not in frame.columns]
    if missing:
        raise SchemaError(f"{where}: the frame lacks the id column(s) {missing}.", hint="Add them.")
    cols = [functions.col(quoted(c)) for c in ids]
    any_null = functools.reduce(operator.or_, [c.isNull() for c in cols])
    null = functions.sum(functions.when(any_null, 1).otherwise(0))
    row = frame.agg(
        functions.count(functions.lit(1)).alias("n"),
        null.alias("nulls"),
        functions.count_distinct(*cols).alias("d"),
    ).first()
    if row["nulls"]:
        raise SchemaError(f"{where}: {row['nulls']} row(s) have a null id.", hint="Drop or fill them first.")
    if row["d"] != row["n"]:
        raise SchemaError(
            f"{where}: {row['n'] - row['d']} row(s) repeat an id within this write.",
            hint="Write one row per sample (dropDuplicates on the id columns).",
        )


def _with_provenance(
    store: SparkMetadataStore, plan: FeaturePlan, graph: FeatureGraph, frame: Any, where: str
) -> Any:
    """``frame`` joined with the provenance its upstream gives each sample (expected rows in Spark)."""
    holders = locate_upstream(store, plan, graph)
    foreign = [k.to_string() for k, h in holders.items() if h.store is not store or h.empty]
    if foreign or not store.supports_native_versioning():
        raise StoreError(
            f"{where}: write_spark versions samples from upstream tables in this store with a hash "
            f"Spark computes; upstream {', '.join(foreign) or 'rows'} cannot be read that way.",
            hint="Use calculate_and_write_data_versions with a Polars frame, or copy the upstream here.",
        )
    versions = {k: graph.feature_version(k) for k in holders}
    tables = store._resolution_tables(plan, versions)
    assert tables is not None
    tables = {k: t for k, t in tables.items() if k != plan.key}  # expected rows only: all tagged new
    engine = SQLEngine(store.dialect, store.hash_settings)
    expected = store.sql_frame(engine.resolve_query(plan, tables))
    new = split(plan, expected).new
    keys = versioning_keys(plan)
    functions = import_driver("pyspark.sql.functions", "spark")
    versions_of = new.select(*(functions.col(quoted(k)) for k in keys), PROVENANCE_BY_FIELD, PROVENANCE)
    own = [functions.col(quoted(c)) for c in frame.columns if c not in (PROVENANCE_BY_FIELD, PROVENANCE)]
    joined = frame.select(*own).join(versions_of, on=keys, how="left")
    if joined.where(functions.col(PROVENANCE).isNull()).limit(1).count():
        orphans = joined.where(functions.col(PROVENANCE).isNull()).count()
        raise SchemaError(
            f"{where}: {orphans} sample(s) have no upstream rows to version them from.",
            hint="Only write samples present upstream (see resolve_update_spark(...).new).",
        )
    return joined


def _with_system_columns(
    store: SparkMetadataStore, plan: FeaturePlan, project_version: str, frame: Any, functions: Any
) -> Any:
    names = [f.key.to_struct_name() for f in plan.fields]
    dialect, settings = store.dialect, store.hash_settings

    def combined(struct: str) -> Any:
        parts = [dialect.struct_field(col(struct), n) for n in names]
        return functions.expr(dialect.render(dialect.hash(dialect.concat(parts), settings)))

    if PROVENANCE not in frame.columns:
        frame = frame.withColumn(PROVENANCE, combined(PROVENANCE_BY_FIELD))
    if DATA_VERSION_BY_FIELD not in frame.columns:
        frame = frame.withColumn(DATA_VERSION_BY_FIELD, functions.col(PROVENANCE_BY_FIELD))
    if DATA_VERSION not in frame.columns:
        frame = frame.withColumn(DATA_VERSION, combined(DATA_VERSION_BY_FIELD))
    now = store._now()
    stamp = functions.lit(now).cast("timestamp")
    defaults = {
        FEATURE_VERSION: functions.lit(plan.feature_version),
        PROJECT_VERSION: functions.lit(project_version),
        CREATED_AT: stamp,
        DELETED_AT: functions.lit(None).cast("timestamp"),
        MATERIALIZATION_ID: functions.lit(uuid.uuid4().hex),
    }
    for name, value in defaults.items():
        if name not in frame.columns:
            frame = frame.withColumn(name, value)
    return frame.withColumn(UPDATED_AT, stamp)


def _conformed(store: SparkMetadataStore, key: Any, frame: Any, where: str) -> Any:
    """``frame`` under the append-schema rule against the stored table (types checked in Polars,
    on the schema only; columns the rule widens are cast in Spark)."""
    from metaxy.stores._write import conform_append

    written = polars_schema(frame.schema.jsonValue())
    target = conform_append(
        pl.DataFrame(schema=written),
        store._stored_schema(key),
        store._storage_type,
        max_name_bytes=store.max_column_name_bytes,
        plain_names=store.requires_plain_column_names,
        where=where,
    ).schema
    spark_types = store.spark.createDataFrame(to_arrow(pl.DataFrame(schema=target))).schema
    functions = import_driver("pyspark.sql.functions", "spark")
    columns = []
    for field in spark_types.fields:
        column = functions.col(quoted(field.name))
        if target[field.name] != written.get(field.name) and not isinstance(target[field.name], pl.Struct):
            column = column.cast(field.dataType)
        columns.append(column.alias(field.name))
    return frame.select(*columns)

"""Run the SQL engine's generated query on DuckDB and on embedded ClickHouse (chdb) and compare it
with the Polars engine (the reference)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
import pyarrow as pa
from polars.testing import assert_frame_equal

import metaxy as mx
from metaxy.constants import FEATURE_VERSION
from metaxy.models.keys import FeatureKey
from metaxy.stores._naming import table_name
from metaxy.stores.clickhouse.connection import _escaped
from metaxy.stores.clickhouse.schema import ClickHouseDialect
from metaxy.versioning.increment import Increment
from metaxy.versioning.lineage import versioning_keys
from metaxy.versioning.sql import SQLEngine, SQLTable


def assert_same_increment(got: Increment[Any], want: Increment[Any], keys: list[str], where: str) -> None:
    got, want = got.collect(), want.collect()
    for part in ("new", "stale", "orphaned"):
        a, b = getattr(got, part), getattr(want, part)
        assert sorted(a.columns) == sorted(b.columns), (where, part, a.columns, b.columns)
        cols = sorted(b.columns)
        assert_frame_equal(a.select(cols).sort(keys), b.select(cols).sort(keys), check_dtypes=False)


class ClickHouseRunner:
    """Mirrors a store's tables into an embedded ClickHouse and runs the generated ClickHouse SQL."""

    def __init__(self, settings: mx.HashAlgorithm | str) -> None:
        from chdb import session

        self.session = session.Session()
        self.session.query("CREATE DATABASE IF NOT EXISTS mx")
        self.settings = settings
        self._n = 0

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        result = self.session.query(sql, "ArrowStream", params=_escaped(params))
        frame = pl.from_arrow(pa.ipc.open_stream(result.bytes()).read_all())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def load(self, store: mx.MetadataStore, keys: list[FeatureKey]) -> dict[FeatureKey, str]:
        """Copy every stored row of ``keys`` into fresh chdb tables; returns their names."""
        self._n += 1
        names = {}
        for key in keys:
            lf = store._scan(key)
            if lf is None:
                continue
            rows = lf.collect().to_arrow()  # noqa: F841  (read by chdb's Python() table function)
            name = f"{table_name(key)}_{self._n}"
            self.session.query(f"CREATE TABLE mx.`{name}` ENGINE = Memory AS SELECT * FROM Python(rows)")
            names[key] = name
        return names

    def resolve(
        self, store: mx.MetadataStore, plan: Any, graph: mx.FeatureGraph
    ) -> Increment[pl.DataFrame] | None:
        keys = [d.feature for d in plan.spec.deps] + [plan.key]
        loaded = self.load(store, keys)
        tables: dict[FeatureKey, SQLTable] = {}
        for dep in plan.spec.deps:
            name = loaded.get(dep.feature)
            version = graph.feature_version(dep.feature)
            if name is None or not self._has_version(name, version):
                if not dep.optional:
                    return None
                continue
            tables[dep.feature] = SQLTable(name, self._columns(name), version, "mx")
        if not tables:
            return None
        if plan.key in loaded:
            tables[plan.key] = SQLTable(loaded[plan.key], self._columns(loaded[plan.key]), None, "mx")
        engine = SQLEngine(ClickHouseDialect(), store.hash_settings)
        query = engine.resolve_query(plan, tables)
        rows = self.query(*ClickHouseDialect().render_bound(query))
        return engine.split(plan, rows)

    def _has_version(self, name: str, version: str) -> bool:
        got = self.query(f"SELECT count() AS n FROM mx.`{name}` WHERE `{FEATURE_VERSION}` = '{version}'")
        return bool(got["n"][0])

    def _columns(self, name: str) -> tuple[str, ...]:
        return tuple(self.query(f"SELECT * FROM mx.`{name}` LIMIT 0").columns)


def topological(graph: mx.FeatureGraph) -> Iterator[FeatureKey]:
    yield from graph.topological_order()


def keys_of(graph: mx.FeatureGraph, key: FeatureKey) -> list[str]:
    return versioning_keys(graph.plan(key))

"""Golden property: the SQL engine equals the Polars engine, on DuckDB (md5, sha256) and, by running
the generated ClickHouse SQL on embedded chdb, on ClickHouse (xxhash32/64, md5, sha256).

Graphs come from the random-graph strategy of the increment oracle test; every feature is resolved by
both engines at every step of a random edit sequence, and the Polars increment is written.
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import metaxy as mx
from metaxy.exceptions import FeatureNotFoundError
from metaxy.versioning.increment import Increment
from tests.versioning.sql.harness import ClickHouseRunner, assert_same_increment, keys_of
from tests.versioning.test_increment_oracle import Node, draw_roots, graphs, samples_frame


def roots_for(nodes: list[Node], data: st.DataObject) -> dict[str, pl.DataFrame]:
    return {key: samples_frame(rows) for key, rows in draw_roots(nodes, data).items()}


def step(
    store: mx.MetadataStore,
    graph: mx.FeatureGraph,
    roots: dict[str, pl.DataFrame],
    runner: ClickHouseRunner | None,
) -> None:
    """Resolve every feature with both engines, compare, write the Polars increment."""
    for key in graph.topological_order():
        name = key.to_string()
        store.versioning_engine = "polars"
        if name in roots:
            inc = store.resolve_update(name, samples=roots[name])
            _write(store, name, inc)
            continue
        try:
            want = store.resolve_update(name)
        except FeatureNotFoundError:
            continue
        keys = keys_of(graph, key)
        if runner is None:
            store.versioning_engine = "native"
            assert_same_increment(store.resolve_update(name), want, keys, f"duckdb {name}")
        else:
            got = runner.resolve(store, graph.plan(key), graph)
            assert got is not None, name
            assert_same_increment(got, want, keys, f"clickhouse {name}")
        _write(store, name, want)


def _write(store: mx.MetadataStore, name: str, inc: Increment[pl.DataFrame]) -> None:
    todo = inc.to_recompute()
    if todo.height:
        store.write_metadata(name, todo)
    if inc.orphaned.height:
        gone = inc.orphaned["sample_uid"].to_list()
        store.delete_metadata(name, filters=pl.col("sample_uid").is_in(gone))


def run_edits(
    nodes: list[Node], algorithm: str, data: st.DataObject, runner: ClickHouseRunner | None
) -> None:
    graph = mx.FeatureGraph()
    with graph.use(), mx.DuckDBMetadataStore(":memory:", hash_algorithm=algorithm) as store:
        for node in nodes:
            graph.add_feature(node.spec())
        roots = roots_for(nodes, data)
        step(store, graph, roots, runner)
        for _ in range(data.draw(st.integers(1, 2))):
            if data.draw(st.booleans()):
                roots = roots_for(nodes, data)  # adds, removes and changes root samples
            else:
                node = data.draw(st.sampled_from(nodes))
                field = data.draw(st.sampled_from(sorted(node.fields)))
                node.fields[field] = str(int(node.fields[field]) + 10)
                graph.add_feature(node.spec())
            step(store, graph, roots, runner)


@settings(max_examples=10, deadline=None)
@given(nodes=graphs(), algorithm=st.sampled_from(["md5", "sha256"]), data=st.data())
def test_duckdb_sql_engine_equals_polars(nodes: list[Node], algorithm: str, data: st.DataObject) -> None:
    run_edits(nodes, algorithm, data, None)


@settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(
    nodes=graphs(),
    algorithm=st.sampled_from(["xxhash32", "xxhash64", "md5", "sha256"]),
    data=st.data(),
)
def test_clickhouse_sql_engine_equals_polars(nodes: list[Node], algorithm: str, data: st.DataObject) -> None:
    pytest.importorskip("chdb", reason="chdb (embedded ClickHouse) is not installed")
    run_edits(nodes, algorithm, data, ClickHouseRunner(algorithm))

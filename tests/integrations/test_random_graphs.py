"""On random feature graphs (the oracle test's strategy), the increment resolved through Ray and through
Dask equals the single-process one: the same samples in each part, with the same per-field provenance.

Each example materializes a graph on a store, edits its roots (samples added, removed, changed), then
walks the graph: at every feature the distributed increment (shards resolved in the workers, which
know the graph only from the shipped definitions) is compared with ``store.resolve_update``, and the
single-process one is written before the next feature, as a pipeline would.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metaxy as mx
from metaxy.exceptions import FeatureNotFoundError
from tests.versioning.test_increment_oracle import Node, draw_roots, graphs, samples_frame

COLUMNS = ["sample_uid", "metaxy_provenance_by_field", "metaxy_provenance"]
STORES = {
    "delta": lambda root: partial(mx.DeltaMetadataStore, str(root / "delta")),
    "duckdb": lambda root: partial(mx.DuckDBMetadataStore, str(root / "meta.duckdb")),
}
Distributed = Callable[[Any, str], dict[str, pl.DataFrame]]  # (store factory, feature key) -> parts

examples = settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_graph(nodes: list[Node], kind: str, data: st.DataObject, distributed: Distributed) -> int:
    """Walk the graph comparing ``distributed`` with the single-process increment; returns features checked."""
    nodes = nodes[:4]  # small graphs: every feature costs a cluster round trip
    graph = mx.FeatureGraph()
    for node in nodes:
        graph.add_feature(node.spec())
    checked = 0
    with tempfile.TemporaryDirectory(prefix="metaxy-graphs-") as tmp, graph.use():
        store = STORES[kind](Path(tmp))
        with store() as opened:
            _walk(opened, graph, draw_roots(nodes, data))  # materialized
        edited = draw_roots(nodes, data)
        for key in graph.topological_order():
            name = key.to_string()
            with store() as opened:
                if name in edited:  # a root: its new samples are written as they are
                    _write_root(opened, name, edited[name])
                    continue
                try:
                    want = opened.resolve_update(name)
                except FeatureNotFoundError:
                    continue  # a required upstream has no rows
            got = distributed(store, name)
            for part, theirs in got.items():
                mine = getattr(want, part)
                assert sorted(theirs["sample_uid"]) == sorted(mine["sample_uid"]), (name, part)
                if part != "orphaned" and mine.height:
                    assert (
                        theirs.select(COLUMNS)
                        .sort("sample_uid")
                        .equals(mine.select(COLUMNS).sort("sample_uid"))
                    )
            checked += 1
            with store() as opened:
                if want.to_recompute().height:
                    opened.write_metadata(name, want.to_recompute())
    return checked


def _walk(store: mx.MetadataStore, graph: mx.FeatureGraph, roots: dict[str, Any]) -> None:
    for key in graph.topological_order():
        name = key.to_string()
        try:
            todo = store.resolve_update(name, samples=samples_frame(roots[name]) if name in roots else None)
        except FeatureNotFoundError:
            continue
        store.write_metadata(name, todo.to_recompute())


def _write_root(store: mx.MetadataStore, name: str, rows: dict[int, dict[str, str]]) -> None:
    """The root's samples become exactly ``rows``: changed and new ones written, missing ones deleted."""
    todo = store.resolve_update(name, samples=samples_frame(rows))
    store.write_metadata(name, todo.to_recompute())
    if todo.orphaned.height:
        store.delete_metadata(name, filters=pl.col("sample_uid").is_in(todo.orphaned["sample_uid"].to_list()))


# -- Ray ----------------------------------------------------------------------------------------------


def through_ray(store: Any, name: str) -> dict[str, pl.DataFrame]:
    import ray

    from metaxy.integrations.ray import STATUS, MetaxyDatasource

    dataset = ray.data.read_datasource(MetaxyDatasource(name, store=store, num_shards=2))
    tables = [ray.get(ref) for ref in dataset.to_arrow_refs()]
    frames = [pl.from_arrow(t) for t in tables if t.num_rows]
    if not frames:
        return {part: pl.DataFrame({"sample_uid": []}) for part in ("new", "stale")}
    rows = pl.concat(frames, how="diagonal_relaxed")
    assert isinstance(rows, pl.DataFrame)
    return {part: rows.filter(pl.col(STATUS) == part) for part in ("new", "stale")}


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.xdist_group("ray")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")
@examples
@given(nodes=graphs(), kind=st.sampled_from(sorted(STORES)), data=st.data())
def test_ray_increments_equal_the_single_process_ones(
    nodes: list[Node], kind: str, data: st.DataObject
) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'metaxy[ray]')")
    check_graph(nodes, kind, data, through_ray)


# -- Dask ---------------------------------------------------------------------------------------------


def through_dask(store: Any, name: str) -> dict[str, pl.DataFrame]:
    import dask

    from metaxy.integrations.dask import DaskMetadataStore

    increment = DaskMetadataStore(store).resolve_update(name, num_shards=2)
    computed = dask.compute(increment.new, increment.stale, increment.orphaned)  # each shard resolved once
    parts = {}
    for part, pandas in zip(("new", "stale", "orphaned"), computed, strict=True):
        frame = pl.from_arrow(pa.Table.from_pandas(pandas, preserve_index=False))
        assert isinstance(frame, pl.DataFrame)
        parts[part] = frame
    return parts


@pytest.mark.usefixtures("dask_client")
@pytest.mark.xdist_group("dask")
@examples
@given(nodes=graphs(), kind=st.sampled_from(sorted(STORES)), data=st.data())
def test_dask_increments_equal_the_single_process_ones(
    nodes: list[Node], kind: str, data: st.DataObject
) -> None:
    pytest.importorskip("dask", reason="dask is not installed (pip install 'metaxy[dask]')")
    check_graph(nodes, kind, data, through_dask)

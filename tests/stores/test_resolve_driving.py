"""How ``resolve_update`` drives the engine: ``lazy=True`` runs nothing, each upstream is probed once."""

from __future__ import annotations

from pathlib import Path

import polars as pl

import metaxy as mx
from metaxy.models.keys import FeatureKey
from tests.stores.graphs import video_graph, videos


def test_lazy_native_resolution_runs_its_query_only_when_collected(tmp_path: Path) -> None:
    g = video_graph()
    with mx.DuckDBMetadataStore(
        tmp_path / "m.duckdb", hash_algorithm="md5", versioning_engine="native"
    ) as store:
        store.write_metadata(g.video, videos([1, 2]))
        increment = store.resolve_update(g.transcript, lazy=True)
        assert isinstance(increment.new, pl.LazyFrame)
        store.write_metadata(g.video, videos([3]))  # written after resolving, before collecting
        assert sorted(increment.collect().new["sample_uid"]) == [1, 2, 3]


class CountingStore(mx.DuckDBMetadataStore):
    """A native DuckDB store that counts how often each feature is probed for stored rows."""

    probes: dict[FeatureKey, int]

    def _holds(self, key: FeatureKey, feature_version: str | None) -> bool:
        self.probes[key] = self.probes.get(key, 0) + 1
        return super()._holds(key, feature_version)


def test_each_upstream_is_probed_once_per_native_resolution(tmp_path: Path) -> None:
    g = video_graph()
    with CountingStore(tmp_path / "m.duckdb", hash_algorithm="md5") as store:
        store.write_metadata(g.video, videos([1, 2]))
        store.probes = {}
        assert store.resolve_update(g.transcript).new.height == 2
        assert store.probes == {g.video.spec().key: 1}

"""Ray on a real local cluster (2 CPUs): shards read in workers, blocks written by workers or by one
writer actor, versions computed in workers, a worker killed mid-write, and the bad inputs."""

from __future__ import annotations

import importlib
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import IntegrationError, InvalidShardError
from tests.integrations.stores import StoreFactory, features, writer_store

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'metaxy[ray]')")
from metaxy.integrations.ray import (  # noqa: E402
    STATUS,
    MetaxyDatasink,
    MetaxyDatasource,
    RayMetadataStore,
)

pytestmark = [
    pytest.mark.usefixtures("ray_cluster"),
    pytest.mark.xdist_group("ray"),  # one Ray cluster per test run, on one xdist worker
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),  # Ray's notes about its own API
]


def collect(dataset: Any) -> pl.DataFrame:
    tables = [ray.get(ref) for ref in dataset.to_arrow_refs()]
    frames = [pl.from_arrow(t) for t in tables if t.num_rows]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


@pytest.mark.parametrize("store", ["duckdb", "postgres"], indirect=True)  # test_random_graphs: the others
def test_the_increment_read_through_ray_equals_the_single_process_one(store: StoreFactory) -> None:
    f = features()
    with store() as opened:
        opened.write_metadata(f.Video, f.videos(range(400)))
        opened.write_metadata(
            f.Transcript, opened.resolve_update(f.Transcript).new.head(100).with_columns(text=pl.lit("t"))
        )
        opened.write_metadata(f.Video, f.videos(range(50), version="2"))  # 50 stale transcripts
        want = opened.resolve_update(f.Transcript)
    source = MetaxyDatasource(f.Transcript, store=store, num_shards=3)
    got = collect(ray.data.read_datasource(source)).sort("sample_uid")
    columns = ["sample_uid", "metaxy_provenance_by_field", "metaxy_provenance"]
    expected = pl.concat(
        [
            want.new.with_columns(pl.lit("new").alias(STATUS)),
            want.stale.with_columns(pl.lit("stale").alias(STATUS)),
        ]
    ).sort("sample_uid")
    assert got.select(*columns, STATUS).equals(expected.select(*columns, STATUS))
    assert got.height == 350


def test_resolve_map_sink_then_nothing_is_left(store: StoreFactory) -> None:
    f = features()
    with store() as opened:
        opened.write_metadata(f.Video, f.videos(range(3000)))
    pipeline = ray.data.read_datasource(
        MetaxyDatasource(f.Transcript, store=store, num_shards=4)
    ).materialize()
    transcripts = pipeline.map_batches(
        lambda b: b.append_column("text", b.column("path")),
        batch_format="pyarrow",
        batch_size=250,  # many blocks per worker
    )
    sink = MetaxyDatasink(f.Transcript, store=store)
    transcripts.write_datasink(sink)
    assert sink.concurrent is (store.func is not mx.DuckDBMetadataStore)  # type: ignore[attr-defined]
    assert (sink.report.rows_written, sink.report.rows_failed) == (3000, 0)
    with store() as opened:
        history = opened.read_metadata(f.Transcript, history=True).collect()
        assert history.height == 3000  # every block once: none lost, none twice
        assert history["sample_uid"].n_unique() == 3000
        assert opened.resolve_update(f.Transcript).is_empty


@pytest.mark.parametrize("store", ["delta", "duckdb"], indirect=True)  # workers write; one writer actor
def test_versions_are_computed_in_the_workers(store: StoreFactory) -> None:
    f = features()
    with store() as opened:
        opened.write_metadata(f.Video, f.videos(range(500)))
        want = (
            opened.resolve_update(f.Transcript)
            .new.select("sample_uid", "metaxy_provenance_by_field")
            .sort("sample_uid")
        )
    samples = pl.DataFrame(
        {"sample_uid": list(range(500)), "text": ["t"] * 500}, schema_overrides={"sample_uid": pl.Int64}
    )
    dataset = ray.data.from_arrow(samples.to_arrow()).repartition(5)
    report = RayMetadataStore(store).calculate_and_write_data_versions(f.Transcript, dataset)
    assert (report.rows_written, report.rows_failed) == (500, 0)
    with store() as opened:
        got = opened.read_metadata(f.Transcript).collect().select(want.columns).sort("sample_uid")
        assert got.equals(want)
        assert opened.resolve_update(f.Transcript).is_empty


def test_a_failed_block_raises_or_is_reported(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    f = features()
    store = writer_store("delta", tmp_path, request)
    good = f.videos(range(10)).to_arrow()
    bad = f.videos(range(10, 20)).drop("metaxy_provenance_by_field").to_arrow()  # a root needs its versions
    dataset = ray.data.from_arrow([good, bad])
    with pytest.raises(Exception, match="metaxy_provenance_by_field"):
        dataset.write_datasink(MetaxyDatasink(f.Video, store=store))
    sink = MetaxyDatasink(f.Video, store=store, continue_on_error=True)
    dataset.write_datasink(sink)
    assert (sink.report.rows_written, sink.report.rows_failed) == (10, 10)
    assert "metaxy_provenance_by_field" in sink.report.errors[0]
    with store() as opened:  # the failed block left nothing behind
        assert sorted(opened.read_metadata(f.Video).collect()["sample_uid"]) == list(range(10))


def test_a_worker_killed_mid_write_is_retried_safely(tmp_path: Path) -> None:
    f = features()
    flag = tmp_path / "die-once"
    flag.touch()
    store = partial(f.DyingDeltaStore, str(tmp_path / "delta"), str(flag))
    dataset = ray.data.from_arrow([f.videos(range(k * 100, (k + 1) * 100)).to_arrow() for k in range(4)])
    sink = MetaxyDatasink(f.Video, store=store)
    dataset.write_datasink(sink, ray_remote_args={"max_retries": 3})
    assert not flag.exists()  # a worker did die after an append
    with store() as opened:
        latest = opened.read_metadata(f.Video).collect()
        assert sorted(latest["sample_uid"]) == list(range(400))  # nothing lost, nothing twice
        history = opened.read_metadata(f.Video, history=True).collect()
        assert history.height >= 400  # the retried block may be stored twice: harmless
        assert opened.resolve_update(f.Transcript).counts == {"new": 400, "stale": 0, "orphaned": 0}


# -- bad input ----------------------------------------------------------------------------------------


def test_an_unpicklable_store_factory_is_refused_on_the_driver(tmp_path: Path) -> None:
    f = features()
    lock = threading.Lock()

    def factory() -> mx.MetadataStore:
        with lock:
            return mx.DeltaMetadataStore(str(tmp_path / "d"))

    with pytest.raises(IntegrationError, match="cannot be sent to the workers") as info:
        MetaxyDatasource(f.Transcript, store=factory)
    assert "Hint:" in str(info.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (mx.InMemoryMetadataStore, "memory of one process"),
        (lambda: "not a store", "not a store"),
        (42, "neither a store name nor a factory"),
    ],
)
def test_stores_workers_cannot_share_are_refused(spec: Any, message: str) -> None:
    with pytest.raises(IntegrationError, match=message):
        MetaxyDatasink(features().Video, store=spec)


def test_a_store_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IntegrationError, match="workers need to build their own"):
        MetaxyDatasource(features().Video, store=mx.DeltaMetadataStore(str(tmp_path)))


def test_a_store_a_worker_cannot_reach_names_the_host_and_location(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted" / "meta.duckdb"
    source = MetaxyDatasource(
        features().Transcript, store=partial(mx.DuckDBMetadataStore, str(missing)), num_shards=2
    )
    with pytest.raises(Exception, match="cannot be opened on worker host") as info:
        ray.data.read_datasource(source).materialize()
    assert str(missing) in str(info.value)


def test_a_feature_definition_that_cannot_travel_names_its_module(tmp_path: Path) -> None:
    module = tmp_path / "local_features.py"
    module.write_text(
        "import threading\nimport metaxy as mx\n\n"
        "class Odd(mx.Feature, spec=mx.FeatureSpec(key='dist/odd', fields=[mx.FieldSpec(key='a')])):\n"
        "    pass\n\n"
        "Odd.spec().__dict__['_lock'] = threading.Lock()  # a definition that cannot be pickled\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        odd = importlib.import_module("local_features").Odd
        with pytest.raises(IntegrationError, match="'local_features'") as info:
            MetaxyDatasource(odd, store=partial(mx.DeltaMetadataStore, str(tmp_path / "d")))
        assert "entrypoints" in str(info.value)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("local_features", None)


def test_a_feature_needing_a_module_workers_cannot_import_names_it(
    tmp_path: Path, driver_only_features: tuple[str, Any, Any]
) -> None:
    module, up, down = driver_only_features
    store = partial(mx.DeltaMetadataStore, str(tmp_path / "delta"))
    rows = pl.DataFrame({"sample_uid": [1, 2], "metaxy_provenance_by_field": [{"a": "x"}] * 2})
    with down.graph().use(), store() as opened:
        opened.write_metadata(up, rows)
        assert opened.resolve_update(down).new.height == 2  # the driver imports the module
    source = MetaxyDatasource(down, store=store, num_shards=2)
    with pytest.raises(Exception, match=f"needs module '{module}'") as info:
        ray.data.read_datasource(source).materialize()
    assert "entrypoints" in str(info.value)


def test_a_bad_shard_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidShardError, match="0 shards"):
        MetaxyDatasource(features().Video, store=partial(mx.DeltaMetadataStore, str(tmp_path)), num_shards=0)

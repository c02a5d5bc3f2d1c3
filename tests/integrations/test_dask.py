"""Dask on a real LocalCluster (2 worker processes): increments as Dask DataFrames resolved shard by
shard in the workers, and versions computed and written per partition."""

from __future__ import annotations

import os
import threading
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

import metaxy as mx
from metaxy.exceptions import IntegrationError, InvalidShardError
from tests.integrations.stores import StoreFactory, driver_only_duckdb, features

dd = pytest.importorskip("dask.dataframe", reason="dask is not installed (pip install 'metaxy[dask]')")
import pandas as pd  # noqa: E402  (a dependency of dask)

from metaxy.integrations.dask import DaskMetadataStore  # noqa: E402

pytestmark = [
    pytest.mark.usefixtures("dask_client"),
    pytest.mark.xdist_group("dask"),  # one Dask cluster per test run, on one xdist worker
]


def to_polars(frame: object) -> pl.DataFrame:
    computed = frame.compute()  # type: ignore[attr-defined]
    converted = pl.from_arrow(pa.Table.from_pandas(computed, preserve_index=False))  # dicts become structs
    assert isinstance(converted, pl.DataFrame)
    return converted


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)  # test_random_graphs: the others
def test_the_increment_through_dask_equals_the_single_process_one(store: StoreFactory) -> None:
    f = features()
    with store() as opened:
        opened.write_metadata(f.Video, f.videos(range(300)))
        first = (
            opened.resolve_update(f.Transcript)
            .new.sort("sample_uid")
            .head(120)
            .with_columns(text=pl.lit("t"))
        )
        opened.write_metadata(f.Transcript, first)
        opened.write_metadata(f.Video, f.videos(range(40), version="2"))  # 40 stale
        opened.delete_metadata(f.Video, filters=pl.col("sample_uid").is_between(100, 109))  # 10 orphaned
        want = opened.resolve_update(f.Transcript)
    got = DaskMetadataStore(store).resolve_update(f.Transcript, num_shards=3)
    assert got.new.npartitions == 3
    for part in ("new", "stale", "orphaned"):
        mine, theirs = to_polars(getattr(got, part)), getattr(want, part)
        assert sorted(mine["sample_uid"]) == sorted(theirs["sample_uid"]), part
        if part != "orphaned":
            columns = ["sample_uid", "metaxy_provenance_by_field", "metaxy_provenance"]
            assert mine.select(columns).sort("sample_uid").equals(theirs.select(columns).sort("sample_uid"))
    assert (len(got.new), len(got.stale), len(got.orphaned)) == (180, 40, 10)


@pytest.mark.parametrize("store", ["delta", "duckdb"], indirect=True)  # workers write; under one lock
def test_versions_are_computed_and_written_per_partition(store: StoreFactory) -> None:
    f = features()
    with store() as opened:
        opened.write_metadata(f.Video, f.videos(range(400)))
        want = (
            opened.resolve_update(f.Transcript)
            .new.select("sample_uid", "metaxy_provenance")
            .sort("sample_uid")
        )
    samples = pl.DataFrame({"sample_uid": list(range(400)), "text": ["t"] * 400}).to_pandas()
    written = DaskMetadataStore(store).calculate_and_write_data_versions(
        f.Transcript, dd.from_pandas(samples, npartitions=4)
    )
    assert sorted(to_polars(written)["sample_uid"]) == list(range(400))
    with store() as opened:
        history = opened.read_metadata(f.Transcript, history=True).collect()
        assert history.height == 400  # every partition once
        assert history.select(want.columns).sort("sample_uid").equals(want)
        assert opened.resolve_update(f.Transcript).is_empty


def test_an_in_memory_store_is_refused() -> None:
    with pytest.raises(IntegrationError, match="memory of one process"):
        DaskMetadataStore(mx.InMemoryMetadataStore)


def test_resolve_map_write_then_nothing_is_left(store: StoreFactory) -> None:
    f = features()
    with store() as opened:
        opened.write_metadata(f.Video, f.videos(range(1000)))
    dask_store = DaskMetadataStore(store)
    new = dask_store.resolve_update(f.Transcript, num_shards=8).new  # 8 appends from 2 workers
    assert dask_store.write_metadata(f.Transcript, new.assign(text=new["path"])) == 1000
    with store() as opened:
        assert opened.read_metadata(f.Transcript, history=True).collect().height == 1000
        assert opened.resolve_update(f.Transcript).is_empty


def pandas_frame(frame: pl.DataFrame) -> pd.DataFrame:
    converted: pd.DataFrame = frame.to_arrow().to_pandas(types_mapper=pd.ArrowDtype)  # structs stay structs
    return converted


def test_a_worker_killed_mid_write_is_retried_safely(tmp_path: Path) -> None:
    f = features()
    flag = tmp_path / "die-once"
    flag.touch()
    store = partial(f.DyingDeltaStore, str(tmp_path / "delta"), str(flag))
    frame = dd.from_pandas(pandas_frame(f.videos(range(400))), npartitions=4)
    assert DaskMetadataStore(store).write_metadata(f.Video, frame) == 400  # the lost task resubmitted
    assert not flag.exists()  # a worker did die after an append
    with store() as opened:
        latest = opened.read_metadata(f.Video).collect()
        assert sorted(latest["sample_uid"]) == list(range(400))  # nothing lost, nothing twice
        history = opened.read_metadata(f.Video, history=True).collect()
        assert history.height >= 400  # the resubmitted partition may be stored twice: harmless
        assert opened.resolve_update(f.Transcript).counts == {"new": 400, "stale": 0, "orphaned": 0}


# -- bad input ----------------------------------------------------------------------------------------


def test_an_unpicklable_store_factory_is_refused_on_the_driver(tmp_path: Path) -> None:
    lock = threading.Lock()

    def factory() -> mx.MetadataStore:
        with lock:
            return mx.DeltaMetadataStore(str(tmp_path / "d"))

    with pytest.raises(IntegrationError, match="cannot be sent to the workers") as info:
        DaskMetadataStore(factory)
    assert "Hint:" in str(info.value)


def test_a_store_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IntegrationError, match="workers need to build their own"):
        DaskMetadataStore(mx.DeltaMetadataStore(str(tmp_path)))


def test_a_store_a_worker_cannot_reach_names_the_host_and_location(tmp_path: Path) -> None:
    f = features()
    path = tmp_path / "meta.duckdb"
    store = partial(driver_only_duckdb, str(path), os.getpid())
    with store() as opened:
        opened.write_metadata(f.Video, f.videos(range(10)))
    increment = DaskMetadataStore(store).resolve_update(f.Transcript, num_shards=2)  # the driver reaches it
    with pytest.raises(IntegrationError, match="cannot be opened on worker host") as info:
        increment.new.compute()
    assert f"/not-mounted{path}" in str(info.value)
    assert "Hint:" in str(info.value)


def test_a_feature_needing_a_module_workers_cannot_import_names_it(
    tmp_path: Path, driver_only_features: tuple[str, Any, Any]
) -> None:
    module, up, down = driver_only_features
    store = partial(mx.DeltaMetadataStore, str(tmp_path / "delta"))
    with down.graph().use(), store() as opened:
        opened.write_metadata(
            up, pl.DataFrame({"sample_uid": [1, 2], "metaxy_provenance_by_field": [{"a": "x"}] * 2})
        )
        assert opened.resolve_update(down).new.height == 2  # the driver imports the module
    increment = DaskMetadataStore(store).resolve_update(down, num_shards=2)
    with pytest.raises(IntegrationError, match=f"needs module '{module}'") as info:
        increment.new.compute()
    assert "entrypoints" in str(info.value)


@pytest.mark.parametrize("count", [0, -1])
def test_a_bad_shard_count_is_refused(tmp_path: Path, count: int) -> None:
    dask_store = DaskMetadataStore(partial(mx.DeltaMetadataStore, str(tmp_path)))
    with pytest.raises(InvalidShardError, match="Hint:"):
        dask_store.resolve_update(features().Transcript, num_shards=count)

"""Dask on a real LocalCluster (2 worker processes): increments as Dask DataFrames resolved shard by
shard in the workers, and versions computed and written per partition."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

import metaxy as mx
from metaxy.exceptions import IntegrationError
from tests.integrations.stores import StoreFactory, features

dd = pytest.importorskip("dask.dataframe", reason="dask is not installed (pip install 'metaxy[dask]')")
from metaxy.integrations.dask import DaskMetadataStore  # noqa: E402

pytestmark = pytest.mark.usefixtures("dask_client")


def to_polars(frame: object) -> pl.DataFrame:
    computed = frame.compute()  # type: ignore[attr-defined]
    converted = pl.from_arrow(pa.Table.from_pandas(computed, preserve_index=False))  # dicts become structs
    assert isinstance(converted, pl.DataFrame)
    return converted


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
        f.Transcript, dd.from_pandas(samples, npartitions=8)
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
    new = dask_store.resolve_update(f.Transcript, num_shards=4).new
    assert dask_store.write_metadata(f.Transcript, new.assign(text=new["path"])) == 1000
    with store() as opened:
        assert opened.read_metadata(f.Transcript, history=True).collect().height == 1000
        assert opened.resolve_update(f.Transcript).is_empty

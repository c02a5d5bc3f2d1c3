"""What is specific to the Delta store: layout, partitioning, atomic and concurrent commits, evolution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

import metaxy as mx
from metaxy.exceptions import SchemaError, StoreBackendError
from metaxy.stores.delta.store import append_table
from tests.servers import S3Server
from tests.stores.graphs import video_graph, videos

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str] | None]:
    """A fresh table root on local disk or on the local S3 server, with its storage options."""
    if request.param == "local":
        return str(tmp_path / "tables"), None
    server: S3Server = request.getfixturevalue("s3_server")
    return f"s3://{server.bucket}/delta-{tmp_path.name}", server.storage_options()


@pytest.fixture
def delta_store(location: tuple[str, dict[str, str] | None]) -> Iterator[mx.DeltaMetadataStore]:
    uri, options = location
    with mx.DeltaMetadataStore(uri, storage_options=options) as store:
        yield store


def _table(store: mx.DeltaMetadataStore, key: str) -> DeltaTable:
    return DeltaTable(store.table_path(mx.FeatureKey(key)), storage_options=store.storage_options)


def test_each_feature_is_a_delta_table_at_its_key_path(tmp_path: Path) -> None:
    g = video_graph()
    with mx.DeltaMetadataStore(f"file://{tmp_path}") as store:
        store.write_metadata(g.video, videos([1]))
        assert (tmp_path / "video" / "raw.delta" / "_delta_log").is_dir()
        assert store.list_features() == [mx.FeatureKey("video/raw")]


def test_partition_cols_are_written_into_the_table_metadata(location: tuple[str, Any]) -> None:
    uri, options = location
    g = video_graph()
    with mx.DeltaMetadataStore(
        uri, partition_cols=["metaxy_feature_version"], storage_options=options
    ) as store:
        store.write_metadata(g.video, videos([1, 2]))
        assert _table(store, "video/raw").metadata().partition_columns == ["metaxy_feature_version"]
        assert store.read_metadata(g.video).collect().height == 2


def test_a_missing_partition_column_is_a_clear_error_and_creates_nothing(tmp_path: Path) -> None:
    g = video_graph()
    with mx.DeltaMetadataStore(tmp_path, partition_cols=["shard"]) as store:
        with pytest.raises(SchemaError, match="shard"):
            store.write_metadata(g.video, videos([1]))
        assert store.list_features() == []


def test_each_append_is_one_commit(delta_store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    delta_store.write_metadata(g.video, videos([1, 2]))
    delta_store.write_metadata(g.video, videos([3]))
    assert _table(delta_store, "video/raw").version() == 1


def test_an_append_failing_midway_leaves_no_rows_visible(delta_store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    delta_store.write_metadata(g.video, videos([1]))
    frame = delta_store.read_metadata(g.video).collect().with_columns(pl.col("sample_uid") + 100)
    batch = pa.RecordBatch.from_arrays(
        [pa.array(s.to_arrow()) for s in frame.get_columns()], names=frame.columns
    )

    def batches() -> Iterator[pa.RecordBatch]:
        yield batch
        raise RuntimeError("writer died")

    reader = pa.RecordBatchReader.from_batches(batch.schema, batches())
    path = delta_store.table_path(mx.FeatureKey("video/raw"))
    with pytest.raises(Exception, match="writer died"):
        append_table(path, reader, storage_options=delta_store.storage_options)
    assert _table(delta_store, "video/raw").version() == 0
    assert delta_store.read_metadata(g.video).collect()["sample_uid"].to_list() == [1]


def test_concurrent_appends_from_two_processes_both_land(location: tuple[str, Any]) -> None:
    uri, options = location
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.stores.delta.writer", uri, str(start), "6", json.dumps(options)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )
        for start in (0, 100)
    ]
    for proc in writers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    g = video_graph()
    with mx.DeltaMetadataStore(uri, storage_options=options) as store:
        ids = sorted(store.read_metadata(g.video).collect()["sample_uid"].to_list())
        assert ids == [*range(6), *range(100, 106)]
        assert _table(store, "video/raw").version() == 11


def test_a_new_column_is_merged_into_the_table(delta_store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    delta_store.write_metadata(g.video, videos([1]))
    delta_store.write_metadata(g.video, videos([2]).with_columns(pl.lit(7).alias("fps")))
    out = delta_store.read_metadata(g.video).collect().sort("sample_uid")
    assert out["fps"].to_list() == [None, 7]


def test_a_changed_dtype_is_a_schema_error_and_writes_nothing(delta_store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    delta_store.write_metadata(g.video, videos([1]))
    with pytest.raises(SchemaError, match=r"'path'.*String.*Int32"):
        delta_store.write_metadata(g.video, videos([2]).with_columns(pl.lit(3).alias("path")))
    assert _table(delta_store, "video/raw").version() == 0


def test_a_narrower_integer_is_cast_to_the_stored_dtype(delta_store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    delta_store.write_metadata(g.video, videos([1]))
    delta_store.write_metadata(g.video, videos([2]).with_columns(pl.col("sample_uid").cast(pl.UInt16)))
    assert delta_store.read_metadata(g.video).collect()["sample_uid"].dtype == pl.Int64


def test_hard_delete_is_a_delta_commit_that_keeps_other_rows(delta_store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    delta_store.write_metadata(g.video, videos([1, 2, 3]))
    assert delta_store.delete_metadata(g.video, filters=pl.col("sample_uid") >= 2, soft=False) == 2
    table = _table(delta_store, "video/raw")
    assert table.history(1)[0]["operation"] in {"DELETE", "MERGE"}
    assert delta_store.read_metadata(g.video, history=True).collect()["sample_uid"].to_list() == [1]


def test_deleting_everything_hides_the_feature_from_listing(delta_store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    delta_store.write_metadata(g.video, videos([1]))
    delta_store.delete_metadata(g.video, soft=False)
    assert delta_store.list_features() == []


def test_filters_are_pushed_into_the_parquet_scan(tmp_path: Path) -> None:
    g = video_graph()
    with mx.DeltaMetadataStore(tmp_path) as store:
        store.write_metadata(g.video, videos([1, 2]))
        lf = store.read_metadata(g.video, history=True, filters=pl.col("path") == "v2.mp4")
        plan = lf.select("path").explain()
    assert plan.startswith("Parquet SCAN")  # nothing left above the scan: it filters and projects
    assert 'SELECTION: col("path") == "v2.mp4"' in plan
    assert "PROJECT 1/" in plan


def test_a_missing_bucket_is_a_store_error_with_a_hint(s3_server: S3Server) -> None:
    g = video_graph()
    options = s3_server.storage_options()
    store = mx.DeltaMetadataStore("s3://no-such-bucket/x", storage_options=options)
    with store, pytest.raises(StoreBackendError, match=r"'video/raw': Delta open failed \(OSError\)"):
        store.write_metadata(g.video, videos([1]))


def _log_files(path: Path) -> list[str]:
    return sorted(p.name for p in (path / "_delta_log").iterdir() if p.name[:20].isdigit())


def test_expired_logs_are_cleaned_up_with_the_commit_that_writes_a_checkpoint(tmp_path: Path) -> None:
    g = video_graph()
    with mx.DeltaMetadataStore(tmp_path) as store:
        store.write_metadata(g.video, videos([0]))
        path = Path(store.table_path(g.video.key()))
        _table(store, "video/raw").alter.set_table_properties(
            {"delta.checkpointInterval": "5", "delta.logRetentionDuration": "interval 0 seconds"}
        )
        for i in range(1, 4):  # versions 2..4: 4 writes the first checkpoint
            store.write_metadata(g.video, videos([i]))
        assert _log_files(path)[0] == "00000000000000000004.checkpoint.parquet"  # 0..3 expired at once
        for i in range(4, 8):  # versions 5..8: no checkpoint, so nothing is listed or deleted
            store.write_metadata(g.video, videos([i]))
        assert len(_log_files(path)) == 6  # checkpoint 4, commits 4..8
        assert store.read_metadata(g.video).collect().height == 8


def test_a_table_kept_open_is_read_again_from_each_new_checkpoint(tmp_path: Path) -> None:
    """A loaded table replays every commit since it was loaded; reloading from a checkpoint bounds that."""
    g = video_graph()
    with mx.DeltaMetadataStore(tmp_path) as store:
        store.write_metadata(g.video, videos([0]))
        _table(store, "video/raw").alter.set_table_properties({"delta.checkpointInterval": "5"})
        for i in range(1, 13):  # versions 2..13; checkpoints at 4, 9
            store.write_metadata(g.video, videos([i]))
        loaded = store._open_tables[store.table_path(g.video.key())]
        assert loaded.table.version() == 13
        assert loaded.loaded_version >= 9


class _RequestCounter:
    """The requests an S3 server answered between two points of a test."""

    def __init__(self, server: S3Server) -> None:
        self.server = server
        self.marks = 0

    def settled(self) -> list[str]:
        """Every request so far, once a marker request sent now shows in the server's log."""
        self.marks += 1
        marker = f"/moto-api/?metaxy-mark={self.marks}"
        with urllib.request.urlopen(f"{self.server.endpoint}{marker}", timeout=10):
            pass
        for _ in range(200):
            seen = self.server.requests()
            if any(marker in r for r in seen):
                return [r for r in seen if "metaxy-mark=" not in r]
            time.sleep(0.05)  # the server writes its log line just after answering
        raise AssertionError(f"marker {marker} never reached the S3 server's log")


def test_an_s3_append_lists_the_whole_log_only_when_it_writes_a_checkpoint(
    s3_server: S3Server, tmp_path: Path
) -> None:
    """deltalake's default hook lists all of ``_delta_log/`` after every commit (a cost growing with the
    history); the store asks for that cleanup only with the commits that write a checkpoint."""
    g = video_graph()
    uri = f"s3://{s3_server.bucket}/requests-{tmp_path.name}"
    counter = _RequestCounter(s3_server)
    per_append: list[list[str]] = []
    with mx.DeltaMetadataStore(uri, storage_options=s3_server.storage_options()) as store:
        store.write_metadata(g.video, videos([0]))
        _table(store, "video/raw").alter.set_table_properties({"delta.checkpointInterval": "5"})
        for i in range(1, 16):  # versions 2..16; checkpoints at 4, 9, 14
            before = len(counter.settled())
            store.write_metadata(g.video, videos([i]))
            per_append.append(counter.settled()[before:])
    log = f"requests-{tmp_path.name}/video/raw.delta/_delta_log/"
    full_listings = [
        n
        for n, reqs in enumerate(per_append)
        if any("list-type" in r and "start-after" not in r for r in reqs)
    ]
    checkpoints = [
        n
        for n, reqs in enumerate(per_append)
        if any(".checkpoint.parquet" in r and r.startswith("PUT") for r in reqs)
    ]
    assert checkpoints == [2, 7, 12]
    assert full_listings == checkpoints
    assert all(log in r or "list-type" in r or "part-" in r for reqs in per_append for r in reqs)
    # from the first checkpoint on, every other append makes the same requests (version 6 as version 16)
    plain = [n for n in range(3, len(per_append)) if n not in checkpoints and n - 1 not in checkpoints]
    shapes = {
        tuple(sorted(r.split(" ")[0] + (" list" if "list-type" in r else "") for r in per_append[n]))
        for n in plain
    }
    assert len(shapes) == 1, "\n".join(str((n, per_append[n])) for n in plain)
    # 12 since the partitioned layout's checks read the log once more per append (constant all the same)
    assert all(len(per_append[n]) <= 12 for n in plain)


def test_a_delta_store_on_s3_exists_once_something_was_written_under_its_root(
    s3_server: S3Server, tmp_path: Path
) -> None:
    store = mx.DeltaMetadataStore(
        f"s3://{s3_server.bucket}/exists-{tmp_path.name}", storage_options=s3_server.storage_options()
    )
    assert not store.exists()
    with store:
        assert not store.exists()  # opening creates nothing on an object store
        store.write_metadata(video_graph().video, videos([1]))
    assert store.exists()

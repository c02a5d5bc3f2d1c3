"""Partitioned Delta tables: multi-level and time partitions, per-feature layouts, and pruning proven by
the files a read can open (the others are removed from disk: a read that touched them would fail)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

import metaxy as mx
from metaxy.config import load_config
from metaxy.exceptions import ConfigError, SchemaError
from metaxy.stores.registry import store_from_config
from metaxy.versioning.shard import shard_of
from tests.stores.graphs import video_graph


def captures(ids: list[int], *, dataset: str, day: int, audio: str = "a") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sample_uid": ids,
            "dataset": [dataset] * len(ids),
            "captured_at": [datetime(2024, 3, day, 12)] * len(ids),
            "metaxy_provenance_by_field": [{"audio": f"{audio}{i}", "frames": f"f{i}"} for i in ids],
        },
        schema_overrides={"sample_uid": pl.Int64},
    )


@pytest.fixture
def store(tmp_path: Path) -> mx.DeltaMetadataStore:
    return mx.DeltaMetadataStore(
        tmp_path / "delta",
        partition_cols=["dataset", "year", "month", "day"],
        time_partitioning=("captured_at", "day"),
    )


def _fill(store: mx.DeltaMetadataStore, video: type[mx.Feature]) -> None:
    """Two datasets over three days: six partitions, one file each."""
    uid = 0
    for dataset in ("a", "b"):
        for day in (1, 2, 3):
            store.write_metadata(video, captures([uid, uid + 1], dataset=dataset, day=day))
            uid += 2


def _remove_files_outside(store: mx.DeltaMetadataStore, key: str, keep: pl.Expr) -> int:
    """Delete from disk the data files of the partitions ``keep`` excludes; how many were removed."""
    table = DeltaTable(store.table_path(mx.FeatureKey(key)))
    files = pl.DataFrame(table.get_add_actions(flatten=True))
    parts = files.select(
        "path", *(pl.col(f"partition.{c}").alias(c) for c in table.metadata().partition_columns)
    )
    gone = parts.filter(~keep)["path"].to_list()
    for path in gone:
        os.remove(Path(store.table_path(mx.FeatureKey(key))) / path)
    return len(gone)


def test_time_levels_are_derived_at_write_time_and_partition_the_table(store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    with store:
        _fill(store, g.video)
        table = DeltaTable(store.table_path(mx.FeatureKey("video/raw")))
        assert table.metadata().partition_columns == ["dataset", "year", "month", "day"]
        day_two = store.read_metadata(g.video, filters=pl.col("day") == 2).collect()
        assert "day" not in day_two.columns  # storage columns: reads leave them out
    stored = pl.read_delta(store.table_path(mx.FeatureKey("video/raw")))
    assert sorted(
        set(zip(stored["dataset"], stored["year"], stored["month"], stored["day"], strict=True))
    ) == [(d, 2024, 3, day) for d in ("a", "b") for day in (1, 2, 3)]
    assert sorted(day_two["sample_uid"]) == [2, 3, 8, 9]


def test_reads_open_only_the_partitions_their_filters_select(store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    wanted = (pl.col("dataset") == "b") & (pl.col("day") == 2)
    with store:
        _fill(store, g.video)
        assert store.partition_files(g.video, filters=wanted) == (1, 6)
        assert store.partition_files(g.video) == (6, 6)
        removed = _remove_files_outside(store, "video/raw", wanted)
        assert removed == 5
        rows = store.read_metadata(g.video, filters=wanted).collect()
        assert sorted(rows["sample_uid"]) == [8, 9]
        with pytest.raises(Exception, match=r"(?i)no such file|not found|os error"):
            store.read_metadata(g.video).collect()  # an unpruned read does open the removed files


def test_resolve_update_filters_prune_the_stored_rows_read(store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    wanted = pl.col("dataset") == "a"
    with store:
        _fill(store, g.video)
        _remove_files_outside(store, "video/raw", wanted)
        expected = pl.concat(
            [captures([0, 1], dataset="a", day=1, audio="new"), captures([100], dataset="a", day=1)]
        )
        increment = store.resolve_update(g.video, samples=expected, filters=wanted)
    assert sorted(increment.new["sample_uid"]) == [100]
    assert sorted(increment.stale["sample_uid"]) == [0, 1]
    assert sorted(increment.orphaned["sample_uid"]) == [2, 3, 4, 5]


def test_a_write_moving_a_sample_to_another_partition_is_refused(store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    with store:
        store.write_metadata(g.video, captures([1], dataset="a", day=1))
        with pytest.raises(
            SchemaError, match=r"moves sample \{'sample_uid': 1\} from partition day=1 to day=2"
        ):
            store.write_metadata(g.video, captures([1], dataset="a", day=2, audio="new"))
        store.write_metadata(g.video, captures([1], dataset="a", day=1, audio="new"))  # same partition
        store.delete_metadata(g.video, filters=pl.col("sample_uid") == 1, soft=False)
        store.write_metadata(g.video, captures([1], dataset="a", day=2))  # hard-deleted first
        assert store.read_metadata(g.video, filters=pl.col("day") == 2).collect()["sample_uid"].to_list() == [
            1
        ]


def test_a_soft_deleted_sample_stays_hidden_in_a_pruned_read(store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    with store:
        _fill(store, g.video)
        store.delete_metadata(g.video, filters=pl.col("sample_uid") == 0)
        rows = store.read_metadata(g.video, filters=pl.col("dataset") == "a").collect()
    assert sorted(rows["sample_uid"]) == [1, 2, 3, 4, 5]


def test_per_feature_layouts_override_the_store_layout(tmp_path: Path) -> None:
    video_graph()
    store = mx.DeltaMetadataStore(
        tmp_path,
        partition_cols=["dataset"],
        partitioning={"video/transcript": {}, "video/faces": {"time_partitioning": ["captured_at", "month"]}},
    )
    with store:
        assert store.partitioning_of(mx.FeatureKey("video/raw")).columns == ("dataset",)  # type: ignore[union-attr]
        assert store.partitioning_of(mx.FeatureKey("video/transcript")) is None
        faces = store.partitioning_of(mx.FeatureKey("video/faces"))
        assert faces is not None
        assert faces.columns == ("year", "month")


def test_per_feature_layouts_come_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "metaxy.toml").write_text(
        """
store = "lake"
[stores.lake]
type = "delta"
table_uri = "tables"
partition_cols = ["dataset"]
time_partitioning = ["captured_at", "day"]
[stores.lake.partitioning."video/transcript"]
partition_cols = ["sample_uid"]
"""
    )
    store = store_from_config(load_config(tmp_path / "metaxy.toml"))
    assert isinstance(store, mx.DeltaMetadataStore)
    assert store.partition_cols == ["dataset", "year", "month", "day"]
    transcript = store.partitioning_of(mx.FeatureKey("video/transcript"))
    assert transcript is not None
    assert transcript.columns == ("sample_uid",)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_partitioning": ("captured_at", "week")}, "grain 'week' is not one of year, month, day, hour"),
        ({"time_partitioning": "captured_at"}, "is not a \\(column, grain\\) pair"),
        ({"partition_cols": ["a", "a"]}, "names a column twice"),
        ({"partitioning": {"video/raw": ["dataset"]}}, "is not a table of partition_cols"),
    ],
)
def test_bad_partition_options_are_config_errors(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        mx.DeltaMetadataStore(tmp_path, **options)  # type: ignore[arg-type]
    assert info.value.hint


def test_a_time_source_that_is_missing_or_null_is_refused(store: mx.DeltaMetadataStore) -> None:
    g = video_graph()
    with store:
        with pytest.raises(
            SchemaError, match="derives \\['year', 'month', 'day'\\] from column 'captured_at'"
        ):
            store.write_metadata(g.video, captures([1], dataset="a", day=1).drop("captured_at"))
        nulls = captures([1], dataset="a", day=1).with_columns(
            pl.lit(None, pl.Datetime("us")).alias("captured_at")
        )
        with pytest.raises(SchemaError, match="is null in 1 row"):
            store.write_metadata(g.video, nulls)


def test_shard_reads_open_only_their_shard_partitions(tmp_path: Path) -> None:
    g = video_graph()
    store = mx.DeltaMetadataStore(tmp_path / "delta", shard_buckets=8)
    with store:
        for start in range(0, 64, 16):  # four appends: up to 8 files each, one per shard partition
            store.write_metadata(g.video, captures(list(range(start, start + 16)), dataset="a", day=1))
        buckets = [{shard_of([i], 8) for i in range(start, start + 16)} for start in range(0, 64, 16)]
        files = sum(len(b) for b in buckets)  # one file per shard partition an append wrote to
        in_shard = sum(len(b & {1, 5}) for b in buckets)  # shard 1 of 4 = shards 1 and 5 of 8
        assert store.partition_files(g.video, shard=(1, 4)) == (in_shard, files)
        assert in_shard < files / 3
        assert store.partition_files(g.video, shard=(0, 3)) == (files, files)  # 3 does not divide 8
        _remove_files_outside(store, "video/raw", pl.col("shard_8") % 4 == 1)
        rows = store.read_metadata(g.video, shard=(1, 4)).collect()
        expected = [i for i in range(64) if shard_of([i], 4) == 1]
        assert sorted(rows["sample_uid"]) == expected
        increment = store.resolve_update(
            g.video, samples=captures(expected, dataset="a", day=1), shard=(1, 4)
        )
    assert increment.new.height == increment.stale.height == increment.orphaned.height == 0

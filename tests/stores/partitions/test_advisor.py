"""The partition advisor on synthetic frames whose right answer is known from the rule's numbers."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import metaxy as mx
from metaxy.stores._partition_advice import advise_partitions


def frame(rows: int = 10_000) -> pl.DataFrame:
    """``dataset`` has 4 values, ``country`` 50, ``score`` is a float, ``sample_uid`` is unique."""
    return pl.DataFrame(
        {
            "sample_uid": range(rows),
            "dataset": [f"ds{i % 4}" for i in range(rows)],
            "country": [f"c{i % 50:02d}" for i in range(rows)],
            "score": [i / 7 for i in range(rows)],
        }
    )


def target_for(sample: pl.DataFrame, rows_per_file: int) -> int:
    """The target file size that makes one file hold ``rows_per_file`` of the sample's rows."""
    return int(sample.estimated_size() / sample.height * rows_per_file) + 1


@pytest.mark.parametrize(
    ("total_rows", "expected"),
    [
        (1_000, []),  # one file's worth: not worth partitioning
        (100_000, ["dataset"]),  # room for 100 partitions: dataset (4), then country (4 x 50) does not fit
        (1_000_000, ["dataset", "country"]),  # room for 1,000: 4 x 50 = 200 fits
    ],
)
def test_levels_are_added_coarse_to_fine_while_partitions_stay_one_file_big(
    total_rows: int, expected: list[str]
) -> None:
    sample = frame()
    target = target_for(sample, 1_000)
    assert (
        advise_partitions(sample, total_rows=total_rows, ids=["sample_uid"], target_file_bytes=target)
        == expected
    )


def test_columns_recent_reads_filtered_on_come_first_and_alone() -> None:
    sample = frame()
    target = target_for(sample, 1_000)
    seen = {"country": 5, "dataset": 1, "score": 9}  # score is a float: never a partition
    assert advise_partitions(
        sample, total_rows=100_000, ids=["sample_uid"], filter_counts=seen, target_file_bytes=target
    ) == ["country"]  # 50 partitions leave room for 2 more levels: dataset's 4 do not fit
    assert advise_partitions(
        sample, total_rows=1_000_000, ids=["sample_uid"], filter_counts=seen, target_file_bytes=target
    ) == ["country", "dataset"]


@pytest.mark.parametrize(
    ("total_rows", "grain"), [(1_000_000, "day"), (100_000, "month"), (10_000_000, "hour")]
)
def test_a_timestamp_is_partitioned_at_the_finest_grain_that_fits(total_rows: int, grain: str) -> None:
    start = datetime(2024, 1, 1)
    sample = pl.DataFrame(
        {"sample_uid": range(8784), "captured_at": [start + timedelta(hours=h) for h in range(8784)]}
    )
    target = target_for(sample, 1_000)
    # 2024 has 8,784 hours, 366 days, 12 months and one year (one value: no partition)
    assert advise_partitions(sample, total_rows=total_rows, ids=["sample_uid"], target_file_bytes=target) == [
        f"captured_at:{grain}"
    ]


def test_the_store_method_counts_the_stored_rows_and_the_filters_an_instrumented_store_saw(
    tmp_path: Path,
) -> None:
    class Capture(mx.Feature, spec=mx.FeatureSpec(key="advisor/capture", fields=[mx.FieldSpec(key="f")])):
        pass

    rows = frame(2_000).with_columns(pl.struct(f=pl.col("dataset")).alias("metaxy_provenance_by_field"))
    target = target_for(rows.drop("metaxy_provenance_by_field"), 100)
    store = mx.InstrumentedMetadataStore(mx.DeltaMetadataStore(tmp_path / "delta"))
    with store:
        store.write_metadata(Capture, rows)
        sample = rows.drop("metaxy_provenance_by_field")
        # 2,000 stored rows, 100 per file: room for 20 partitions; dataset (4) fits, country (50) not
        assert store.analyze_partition_strategy(Capture, sample, target_file_bytes=target) == ["dataset"]
        for _ in range(3):
            store.read_metadata(Capture, filters=pl.col("country") == "c01").collect()
        assert store.recent_filter_columns()["country"] == 3
        # country is what reads filter on; 50 partitions of 2,000 rows would be too small
        assert store.analyze_partition_strategy(Capture, sample, target_file_bytes=target) == []
        assert store.analyze_partition_strategy(
            Capture, sample, total_rows=100_000, target_file_bytes=target
        ) == ["country"]

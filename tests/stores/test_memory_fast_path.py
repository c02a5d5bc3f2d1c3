"""The in-memory store skips the latest-row pick only when a table is one chunk with unique ids."""

from __future__ import annotations

import polars as pl

import metaxy as mx
from metaxy.constants import DELETED_AT, FEATURE_VERSION, UPDATED_AT
from metaxy.models.keys import FeatureKey
from metaxy.stores.base import ReadRequest

KEY = FeatureKey("fast/path")


def chunk(rows: list[tuple[int, int, str]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["sample_uid", "day", "value"], orient="row")
    return frame.with_columns(
        pl.datetime(2026, 1, pl.col("day"), time_zone="UTC").alias(UPDATED_AT),
        pl.lit(None, pl.Datetime("us", "UTC")).alias(DELETED_AT),
        pl.lit("v1").alias(FEATURE_VERSION),
    ).drop("day")


def latest(store: mx.InMemoryMetadataStore) -> list[str]:
    lf = store._read_rows(ReadRequest(KEY, ("sample_uid",)))
    assert lf is not None
    return lf.collect().sort("sample_uid")["value"].to_list()


def test_single_chunk_with_repeated_ids_is_still_deduplicated() -> None:
    store = mx.InMemoryMetadataStore()
    store._append(KEY, chunk([(1, 2, "new"), (1, 1, "old"), (2, 1, "two")]))
    assert latest(store) == ["new", "two"]


def test_single_chunk_with_unique_ids_is_read_as_is() -> None:
    store = mx.InMemoryMetadataStore()
    store._append(KEY, chunk([(1, 1, "one"), (2, 1, "two")]))
    assert store._ids_unique(KEY, ("sample_uid",))
    assert latest(store) == ["one", "two"]


def test_a_second_chunk_turns_the_pick_back_on() -> None:
    store = mx.InMemoryMetadataStore()
    store._append(KEY, chunk([(1, 1, "old"), (2, 1, "two")]))
    assert latest(store) == ["old", "two"]
    store._append(KEY, chunk([(1, 3, "new")]))
    assert not store._ids_unique(KEY, ("sample_uid",))
    assert latest(store) == ["new", "two"]


def test_cache_follows_the_chunk_after_a_hard_delete() -> None:
    store = mx.InMemoryMetadataStore()
    store._append(KEY, chunk([(1, 1, "a"), (1, 2, "b"), (2, 1, "c")]))
    assert not store._ids_unique(KEY, ("sample_uid",))
    store._delete_rows(KEY, pl.col("value") == "a")
    assert store._ids_unique(KEY, ("sample_uid",))
    assert latest(store) == ["b", "c"]

"""``CachedMetadataStore``: hot reads skip storage; writes and deletes through it invalidate; TTL for the rest."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import metaxy as mx
from metaxy.exceptions import ConfigError, FeatureNotFoundError
from metaxy.testing import (
    ExampleFeatures,
    MockMetadataStore,
    define_example_features,
    example_videos,
    materialize_example,
)


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def backend(example_features: ExampleFeatures) -> MockMetadataStore:
    """The wrapped store; ``calls["scan"]`` counts every time storage is read."""
    store = MockMetadataStore(name="backend")
    with store:
        materialize_example(store, example_features)
    return store


def _uids(frame: pl.LazyFrame) -> list[int]:
    return sorted(frame.collect()["sample_uid"].to_list())


def test_hot_read_does_not_touch_storage(
    backend: MockMetadataStore, example_features: ExampleFeatures
) -> None:
    cached = mx.CachedMetadataStore(backend)
    with cached:
        first = cached.read_metadata(example_features.faces).collect()
        scans = backend.calls["scan"]
        second = cached.read_metadata(example_features.faces).collect()
        assert backend.calls["scan"] == scans
    assert second.equals(first)
    assert cached.cache_stats() | {"hit_rate": None} == {
        "hits": 1,
        "misses": 1,
        "hit_rate": None,
        "bypassed": 0,
        "entries": 1,
        "cache_size": 100,
    }


def test_key_covers_filters_columns_and_flags(
    backend: MockMetadataStore, example_features: ExampleFeatures
) -> None:
    cached = mx.CachedMetadataStore(backend)
    video = example_features.video
    with cached:
        assert _uids(cached.read_metadata(video, filters=pl.col("sample_uid") > 1)) == [2, 3]
        assert _uids(cached.read_metadata(video, filters=[pl.col("sample_uid") > 1])) == [2, 3]  # same filter
        assert _uids(cached.read_metadata(video, filters=pl.col("sample_uid") > 2)) == [3]
        assert cached.read_metadata(video, columns=["sample_uid"]).collect().columns == ["sample_uid"]
        assert _uids(cached.read_metadata(video, history=True)) == [1, 2, 3]
        assert _uids(cached.read_metadata(video, allow_fallback=True)) == [1, 2, 3]  # a default, spelled out
        assert _uids(cached.read_metadata(video)) == [1, 2, 3]
    assert (cached.cache_stats()["hits"], cached.cache_stats()["misses"]) == (2, 5)


def test_filters_that_cannot_be_serialized_bypass_the_cache(
    backend: MockMetadataStore, example_features: ExampleFeatures
) -> None:
    cached = mx.CachedMetadataStore(backend)
    udf = pl.col("sample_uid").map_batches(lambda s: s > 1, return_dtype=pl.Boolean)
    with cached:
        for _ in range(2):
            assert _uids(cached.read_metadata(example_features.video, filters=udf)) == [2, 3]
    assert cached.cache_stats()["bypassed"] == 2
    assert cached.cache_stats()["entries"] == 0


@pytest.mark.parametrize("soft", [True, False])
def test_writes_and_deletes_through_the_wrapper_invalidate(
    backend: MockMetadataStore, example_features: ExampleFeatures, soft: bool
) -> None:
    cached = mx.CachedMetadataStore(backend)
    video, faces = example_features.video, example_features.faces
    with cached:
        assert _uids(cached.read_metadata(video)) == [1, 2, 3]
        assert _uids(cached.read_metadata(faces)) == [1, 2, 3]
        cached.write_metadata(video, example_videos((4,)))
        assert _uids(cached.read_metadata(video)) == [1, 2, 3, 4]
        cached.delete_metadata(video, filters=pl.col("sample_uid") == 1, soft=soft)
        assert _uids(cached.read_metadata(video)) == [2, 3, 4]
        assert _uids(cached.read_metadata(faces)) == [1, 2, 3]  # other features keep their entries
    assert cached.cache_stats()["hits"] == 1


def test_calculate_and_copy_through_the_wrapper_invalidate(
    backend: MockMetadataStore, example_features: ExampleFeatures
) -> None:
    cached = mx.CachedMetadataStore(backend)
    summary = example_features.summary
    with cached:
        cached.read_metadata(summary).collect()
        cached.delete_metadata(summary, soft=False)
        with pytest.raises(FeatureNotFoundError):
            cached.read_metadata(summary)
        cached.calculate_and_write_data_versions(summary, pl.DataFrame({"sample_uid": [1], "title": ["x"]}))
        assert _uids(cached.read_metadata(summary)) == [1]
        source = mx.InMemoryMetadataStore(name="source").open()
        materialize_example(source, example_features)
        cached.copy_metadata(source, [summary])
        assert _uids(cached.read_metadata(summary)) == [1, 2, 3]


def test_out_of_band_writes_are_seen_after_the_ttl(
    backend: MockMetadataStore, example_features: ExampleFeatures
) -> None:
    clock = ManualClock()
    cached = mx.CachedMetadataStore(backend, ttl=30, clock=clock)
    video = example_features.video
    with cached:
        assert _uids(cached.read_metadata(video)) == [1, 2, 3]
        backend.write_metadata(video, example_videos((5,)))  # another handle: the cache cannot know
        clock.now = 30
        assert _uids(cached.read_metadata(video)) == [1, 2, 3]  # still fresh: documented staleness
        clock.now = 30.5
        assert _uids(cached.read_metadata(video)) == [1, 2, 3, 5]
        backend.write_metadata(video, example_videos((6,)))
        cached.invalidate(video)
        assert _uids(cached.read_metadata(video)) == [1, 2, 3, 5, 6]


def test_a_code_change_never_serves_the_old_version(backend: MockMetadataStore) -> None:
    def define(code_version: str) -> type[mx.Feature]:
        class Clip(
            mx.Feature,
            spec=mx.FeatureSpec(key="clip", fields=[mx.FieldSpec(key="default", code_version=code_version)]),
        ):
            pass

        return Clip

    clip = define("1")
    cached = mx.CachedMetadataStore(backend)
    samples = pl.DataFrame({"sample_uid": [1], "metaxy_provenance_by_field": [{"default": "d1"}]})
    with cached:
        cached.write_metadata(clip, samples)
        assert cached.read_metadata(clip).collect().height == 1
        clip = define("2")  # same key, new feature version, nothing stored for it yet
        with pytest.raises(FeatureNotFoundError):
            cached.read_metadata(clip)


def test_least_recently_used_entry_is_evicted(
    backend: MockMetadataStore, example_features: ExampleFeatures
) -> None:
    cached = mx.CachedMetadataStore(backend, cache_size=2)
    f = example_features
    with cached:
        for feature in (f.video, f.faces, f.video, f.summary, f.video, f.faces):
            cached.read_metadata(feature).collect()
    # video stays hot; faces was evicted by summary, so its second read missed
    assert (cached.cache_stats()["hits"], cached.cache_stats()["misses"]) == (2, 4)
    assert cached.cache_stats()["entries"] == 2


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="cache_size=0"):
        mx.CachedMetadataStore(mx.InMemoryMetadataStore(), cache_size=0)
    with pytest.raises(ConfigError, match="ttl=-1"):
        mx.CachedMetadataStore(mx.InMemoryMetadataStore(), ttl=-1)


def test_cached_store_is_a_store_everywhere(
    backend: MockMetadataStore, example_features: ExampleFeatures
) -> None:
    cached = mx.CachedMetadataStore(backend)
    dev = mx.InMemoryMetadataStore(name="dev", fallback_stores=[cached])
    with dev:
        assert dev.read_metadata(example_features.summary).collect().height == 3
        assert dev.has_feature(example_features.summary, check_fallback=True)
        assert cached.list_features() == backend.list_features()
        assert cached.resolve_update(example_features.summary).is_empty
    assert not cached.is_open
    assert not backend.is_open


def test_a_failed_write_of_an_unknown_feature_raises_the_original_error(backend: MockMetadataStore) -> None:
    cached = mx.CachedMetadataStore(backend)
    with cached, pytest.raises(mx.MetaxyError, match="nope") as info:
        cached.write_metadata("nope", pl.DataFrame({"sample_uid": [1]}))
    # invalidating after the failure raised nothing of its own (it would carry the original in its context)
    context, chain = info.value.__context__, []
    while context is not None:
        chain.append(context)
        context = context.__context__
    assert not any(isinstance(error, mx.MetaxyError) for error in chain)


Op = tuple[str, int]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["write", "soft_delete", "hard_delete", "read", "read_filtered"]), st.integers(1, 4)
    ),
    max_size=12,
)


@given(ops=OPS)
def test_cached_reads_always_equal_uncached_reads(ops: list[Op]) -> None:
    """Any sequence of writes, deletes and reads through the wrapper reads exactly what the bare store reads."""
    with mx.FeatureGraph().use():
        video = define_example_features().video
        plain, cached = (
            mx.InMemoryMetadataStore(),
            mx.CachedMetadataStore(mx.InMemoryMetadataStore(), cache_size=3),
        )
        with plain, cached:
            for step, (op, uid) in enumerate(ops):
                for store in (plain, cached):
                    _apply(store, video, op, uid, step)
                if op.startswith("read"):
                    kwargs = {"filters": pl.col("sample_uid") <= uid} if op == "read_filtered" else {}
                    assert _read(cached, video, **kwargs) == _read(plain, video, **kwargs)


def _apply(store: mx.MetadataStore, video: type[mx.Feature], op: str, uid: int, step: int) -> None:
    if op == "write":
        store.write_metadata(video, example_videos((uid, uid + 1)).with_columns(path=pl.lit(f"step {step}")))
    elif op.endswith("delete") and store.has_feature(video):
        store.delete_metadata(video, filters=pl.col("sample_uid") == uid, soft=op == "soft_delete")


def _read(store: mx.MetadataStore, video: type[mx.Feature], **kwargs: Any) -> list[tuple[int, str]] | None:
    try:
        frame = store.read_metadata(video, **kwargs).collect()
    except FeatureNotFoundError:
        return None
    return sorted(zip(frame["sample_uid"], frame["path"], strict=True))

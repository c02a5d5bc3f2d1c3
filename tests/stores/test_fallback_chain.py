"""Fallback chains: reads fall through, writes stay local, hash settings must agree."""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import HashSettingsMismatchError, ReadOnlyStoreError
from tests.stores.graphs import video_graph, videos


def test_reads_fall_through_to_the_first_store_holding_the_feature() -> None:
    g = video_graph()
    prod, staging = mx.InMemoryMetadataStore(name="prod"), mx.InMemoryMetadataStore(name="staging")
    dev = mx.InMemoryMetadataStore(
        name="dev", fallback_stores=[mx.InMemoryMetadataStore(name="empty", fallback_stores=[staging]), prod]
    )
    with prod:
        prod.write_metadata(g.video, videos([1, 2]))
    with staging:
        staging.write_metadata(g.video, videos([1]))
    with dev:
        assert dev.read_metadata(g.video).collect().height == 1  # staging comes first (depth 2)
        with pytest.raises(mx.MetaxyError):
            dev.read_metadata(g.video, allow_fallback=False)
        assert not dev.has_feature(g.video)
        assert dev.has_feature(g.video, check_fallback=True)


def test_writes_go_only_to_the_primary() -> None:
    g = video_graph()
    prod = mx.InMemoryMetadataStore(name="prod")
    dev = mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod])
    with dev:
        dev.write_metadata(g.video, videos([1]))
        assert prod.list_features() == []
        assert dev.list_features() == [g.video.key()]


@pytest.mark.parametrize("algorithm", ["xxhash32", "md5"])
def test_increment_with_upstream_in_a_fallback_equals_the_local_one(algorithm: str) -> None:
    g = video_graph()
    local = mx.InMemoryMetadataStore(hash_algorithm=algorithm)
    prod = mx.InMemoryMetadataStore(name="prod", hash_algorithm=algorithm)
    dev = mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod], hash_algorithm=algorithm)
    with local, dev:
        for target in (local, prod):
            target.write_metadata(g.video, videos([1, 2, 3]))
            target.write_metadata(
                g.transcript, target.resolve_update(g.transcript).new.filter(pl.col("sample_uid") < 3)
            )
            target.write_metadata(g.video, videos([2], audio="z"))
        dev.write_metadata(g.transcript, prod.read_metadata(g.transcript).collect())
        want = local.resolve_update(g.transcript)
        got = dev.resolve_update(g.transcript)
        for part in ("new", "stale", "orphaned"):
            cols = ["sample_uid", "metaxy_provenance"] if part != "orphaned" else ["sample_uid"]
            assert (
                getattr(got, part)
                .select(cols)
                .sort("sample_uid")
                .equals(getattr(want, part).select(cols).sort("sample_uid"))
            )
        assert got.counts == {"new": 1, "stale": 1, "orphaned": 0}


def test_mismatched_hash_settings_are_refused() -> None:
    prod = mx.InMemoryMetadataStore(name="prod", hash_algorithm="md5")
    with pytest.raises(HashSettingsMismatchError, match="same hash_algorithm"):
        mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod])
    with pytest.raises(HashSettingsMismatchError):
        mx.InMemoryMetadataStore(fallback_stores=[mx.InMemoryMetadataStore(hash_truncation_length=16)])


def test_read_only_store_refuses_writes_and_deletes() -> None:
    g = video_graph()
    with mx.InMemoryMetadataStore(read_only=True) as store:
        with pytest.raises(ReadOnlyStoreError, match="read-only"):
            store.write_metadata(g.video, videos([1]))
        with pytest.raises(ReadOnlyStoreError):
            store.delete_metadata(g.video)

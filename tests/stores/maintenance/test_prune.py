"""``store.prune`` on every store: superseded rows go, latest rows and what increments read stay."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import ReadOnlyStoreError, RetentionError
from tests.stores.graphs import bump, video_graph, videos


def _history(store: mx.MetadataStore, feature: type[mx.Feature]) -> pl.DataFrame:
    return store.read_metadata(feature, history=True).collect()


def _latest(store: mx.MetadataStore, feature: type[mx.Feature], **options: bool) -> pl.DataFrame:
    rows = store.read_metadata(feature, **options).collect()
    return rows.sort("sample_uid").select("sample_uid", "path", "metaxy_provenance", "metaxy_feature_version")


def test_prune_removes_superseded_rows_and_keeps_every_read(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    store.write_metadata(g.video, videos([2], audio="b"))
    store.write_metadata(g.video, videos([2, 3], audio="c"))
    store.write_metadata(g.transcript, store.resolve_update(g.transcript).new)
    latest = _latest(store, g.video)

    dry = store.prune(g.video, dry_run=True)
    assert (dry.dry_run, dry.rows_before, dry.pruned, dry.rows_after) == (True, 6, 3, 3)
    assert dry.kept_versions == (g.video.feature_version(),)
    assert _history(store, g.video).height == 6  # a dry run removes nothing

    report = store.prune(g.video)
    assert (report.dry_run, report.rows_before, report.pruned) == (False, 6, 3)
    assert report.by_version == {g.video.feature_version(): 3}
    assert _history(store, g.video).height == 3
    assert _latest(store, g.video).equals(latest)
    increment = store.resolve_update(g.transcript)  # the downstream increment still reads its rows
    assert (increment.new.height, increment.stale.height, increment.orphaned.height) == (0, 0, 0)
    assert store.prune(g.video).pruned == 0  # nothing left to prune


def test_prune_keeps_tombstones_so_deleted_samples_stay_deleted(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    store.delete_metadata(g.video, filters=pl.col("sample_uid") == 1)
    assert store.prune(g.video).pruned == 1  # the live row under the tombstone
    assert store.read_metadata(g.video).collect()["sample_uid"].to_list() == [2]
    deleted = store.read_metadata(g.video, include_deleted=True).collect()
    assert deleted.filter(pl.col("sample_uid") == 1)["metaxy_deleted_at"].is_not_null().all()


def test_keep_versions_keeps_older_feature_versions(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    store.write_metadata(g.video, videos([1, 2], audio="b"))
    old = g.video.feature_version()
    bump("video/raw", "audio", "2")
    current = g.video.feature_version()
    assert current != old
    store.write_metadata(g.video, videos([1]))

    two = store.prune(g.video, keep_versions=2, dry_run=True)
    assert two.kept_versions == (current, old)
    assert two.by_version == {old: 2}  # the rows the rewrite superseded

    latest = store.prune(g.video, keep="latest", dry_run=True)
    assert latest.kept_versions == (current,)
    # sample 1's old row is superseded by its current one; sample 2's old row is its latest: kept
    assert latest.by_version == {old: 3}

    store.prune(g.video, keep_versions=2)
    assert _latest(store, g.video, feature_version=old).height == 2  # the old version still reads
    store.prune(g.video)
    assert _latest(store, g.video, all_versions=True)["sample_uid"].to_list() == [1, 2]
    assert _latest(store, g.video)["sample_uid"].to_list() == [1]
    assert _history(store, g.video).height == 2


def test_older_than_only_removes_rows_written_before_the_cutoff(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    store.write_metadata(g.video, videos([1], audio="b"))
    assert store.prune(g.video, older_than=timedelta(days=1)).pruned == 0  # every row is recent
    assert store.prune(g.video, older_than=timedelta(0), dry_run=True).pruned == 1
    assert store.prune(g.video, older_than=timedelta(0)).pruned == 1
    assert _history(store, g.video).height == 1


def test_prune_of_a_feature_never_written_removes_nothing(store: mx.MetadataStore) -> None:
    g = video_graph()
    assert store.prune(g.video).to_dict()["pruned"] == 0


BAD_OPTIONS: list[tuple[dict[str, object], str]] = [
    ({"keep": "all"}, "is not a retention policy"),
    ({"keep": "latest", "keep_versions": 2}, "keep_versions=1: pass one of them"),
    ({"keep_versions": 0}, "must be a whole number >= 1"),
    ({"keep_versions": True}, "must be a whole number >= 1"),
    ({"older_than": timedelta(days=-1)}, "must be a timedelta >= 0"),
    ({"older_than": 3600}, "must be a timedelta >= 0"),
]


def test_prune_refuses_bad_options(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    store.write_metadata(g.video, videos([1], audio="b"))
    for options, message in BAD_OPTIONS:
        for dry_run in (True, False):
            with pytest.raises(RetentionError, match=message):
                store.prune(g.video, dry_run=dry_run, **options)  # type: ignore[arg-type]
    assert _history(store, g.video).height == 2


def test_prune_on_a_read_only_store_is_refused_but_dry_runs() -> None:
    g = video_graph()
    with mx.InMemoryMetadataStore() as writable:
        writable.write_metadata(g.video, videos([1]))
        writable.write_metadata(g.video, videos([1], audio="b"))
        writable.read_only = True
        assert writable.prune(g.video, dry_run=True).pruned == 1
        with pytest.raises(ReadOnlyStoreError):
            writable.prune(g.video)

"""Graph snapshots live in every store, under a system key that list_features() hides."""

from __future__ import annotations

import pytest

import metaxy as mx
from metaxy.exceptions import ReadOnlyStoreError, SnapshotNotFoundError
from tests.stores.graphs import bump, video_graph, videos


def test_push_is_idempotent_and_hidden_from_list_features(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    first = mx.push_graph_snapshot(store)
    assert first == mx.FeatureGraph.get_active().project_version()
    assert mx.push_graph_snapshot(store) == first
    history = mx.list_graph_snapshots(store)
    assert history.columns == ["snapshot_id", "pushed_at", "feature_count"]
    assert history.rows()[0][::2] == (first, 3)
    assert history.height == 1
    assert store.list_features() == [mx.FeatureKey("video/raw")]


def test_history_lists_every_pushed_graph_in_order(store: mx.MetadataStore) -> None:
    video_graph()
    first = mx.push_graph_snapshot(store)
    bump("video/raw", "audio", "2")
    second = mx.push_graph_snapshot(store)
    assert first != second
    assert mx.list_graph_snapshots(store)["snapshot_id"].to_list() == [first, second]


def test_a_loaded_snapshot_rebuilds_the_past_graph_without_classes(store: mx.MetadataStore) -> None:
    video_graph()
    active = mx.FeatureGraph.get_active()
    old_versions = {k: active.feature_version(k) for k in active.keys}
    snapshot_id = mx.push_graph_snapshot(store)
    bump("video/raw", "audio", "2")
    loaded = mx.load_graph_snapshot(store, snapshot_id[:5])  # a unique prefix is enough
    assert {k: loaded.feature_version(k) for k in loaded.keys} == old_versions
    assert loaded.feature_class("video/raw") is None
    assert loaded.project_version() == snapshot_id


def test_unknown_snapshots_and_read_only_pushes_fail_clearly(store: mx.MetadataStore) -> None:
    video_graph()
    with pytest.raises(SnapshotNotFoundError, match="no graph snapshot matches 'nope'") as info:
        mx.load_graph_snapshot(store, "nope")
    assert "push" in (info.value.hint or "")
    store.read_only = True
    try:
        with pytest.raises(ReadOnlyStoreError):
            mx.push_graph_snapshot(store)
    finally:
        store.read_only = False

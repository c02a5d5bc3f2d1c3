"""count_impact: how many stored samples a graph change sends back to computation, on every store."""

from __future__ import annotations

import metaxy as mx
from tests.stores.graphs import bump, video_graph, videos


def _materialize(store: mx.MetadataStore, ids: list[int]) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos(ids))
    for feature in (g.transcript, g.faces):
        store.write_metadata(feature, store.resolve_update(feature).new)


def test_counts_match_what_resolution_will_report(store: mx.MetadataStore) -> None:
    _materialize(store, [1, 2, 3, 4])
    old = mx.FeatureGraph.from_snapshot(mx.FeatureGraph.get_active().snapshot())
    bump("video/transcript", "text", "2")
    diff = mx.diff_graphs(old, mx.FeatureGraph.get_active())
    counts = mx.count_impact(store, diff)
    assert counts == {mx.FeatureKey("video/transcript"): 4}
    assert store.resolve_update("video/transcript").stale.height == 4


def test_upstream_changes_count_downstream_samples_field_by_field(store: mx.MetadataStore) -> None:
    _materialize(store, [1, 2, 3])
    store.delete_metadata("video/transcript", soft=True)
    old = mx.FeatureGraph.from_snapshot(mx.FeatureGraph.get_active().snapshot())
    bump("video/raw", "audio", "2")
    counts = mx.count_impact(store, mx.diff_graphs(old, mx.FeatureGraph.get_active()))
    # transcript's samples were soft-deleted: nothing left to recompute; faces (frames only) not listed
    assert counts == {mx.FeatureKey("video/raw"): 3, mx.FeatureKey("video/transcript"): 0}

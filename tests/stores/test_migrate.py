"""Migration without recompute, on every store: bump → migrate → nothing stale anywhere."""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import MigrationError
from tests.stores.graphs import bump, video_graph, videos

FEATURES = ("video/raw", "video/transcript", "video/faces")


def _materialize(store: mx.MetadataStore, ids: list[int]) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos(ids))
    for feature in (g.transcript, g.faces):
        store.write_metadata(feature, store.resolve_update(feature).new)


def _pending(store: mx.MetadataStore) -> dict[str, tuple[int, int, int]]:
    out = {}
    for key in FEATURES:
        samples = videos([1, 2, 3]) if key == "video/raw" else None
        inc = store.resolve_update(key, samples=samples)
        out[key] = (inc.new.height, inc.stale.height, inc.orphaned.height)
    return out


def _history(store: mx.MetadataStore) -> dict[str, int]:
    return {k: store.read_metadata(k, history=True).collect().height for k in FEATURES}


def test_bump_then_migrate_leaves_nothing_stale_and_keeps_history(store: mx.MetadataStore) -> None:
    _materialize(store, [1, 2, 3])
    before = store.read_metadata("video/raw").collect().sort("sample_uid")
    bump("video/raw", "audio", "2")
    report = mx.migrate_data_versions(store, "video/raw", new_code_version="2")
    assert {f.feature.to_string(): f.migrated for f in report.features} == {
        "video/raw": 3,
        "video/transcript": 3,
        "video/faces": 0,  # reads frames only: its version did not change
    }
    assert _pending(store) == dict.fromkeys(FEATURES, (0, 0, 0))
    after = store.read_metadata("video/raw").collect().sort("sample_uid")
    # outputs did not change, so data versions are kept; provenance and feature version are new
    assert after["metaxy_data_version_by_field"].to_list() == before["metaxy_data_version_by_field"].to_list()
    assert after["metaxy_data_version"].to_list() == before["metaxy_data_version"].to_list()
    assert set(after["metaxy_feature_version"]) == {mx.FeatureGraph.get_active().feature_version("video/raw")}
    assert after["path"].to_list() == before["path"].to_list()
    assert _history(store) == {"video/raw": 6, "video/transcript": 6, "video/faces": 3}


def test_a_downstream_code_bump_migrates_that_feature_alone(store: mx.MetadataStore) -> None:
    _materialize(store, [1, 2, 3])
    bump("video/faces", "boxes", "5")
    report = mx.migrate_data_versions(store, "video/faces", new_code_version={"boxes": "5"})
    assert [(f.feature.to_string(), f.migrated) for f in report.features] == [("video/faces", 3)]
    assert _pending(store) == dict.fromkeys(FEATURES, (0, 0, 0))


def test_a_dry_run_reports_the_same_and_writes_nothing(store: mx.MetadataStore) -> None:
    _materialize(store, [1, 2, 3])
    bump("video/raw", "audio", "2")
    history = _history(store)
    dry = mx.migrate_data_versions(store, "video/raw", dry_run=True)
    assert dry.dry_run
    assert _history(store) == history
    assert store.resolve_update("video/raw", samples=videos([1, 2, 3])).stale.height == 3
    real = mx.migrate_data_versions(store, "video/raw")
    assert dry.to_dict() | {"dry_run": False} == real.to_dict()


def test_downstream_rows_whose_inputs_really_changed_stay_stale(store: mx.MetadataStore) -> None:
    g = video_graph()
    _materialize(store, [1, 2, 3])
    # sample 2's audio changed for real before the refactor: transcript 2 must stay stale
    store.write_metadata(g.video, videos([2], audio="new"))
    bump("video/raw", "audio", "2")
    report = mx.migrate_data_versions(store, "video/raw")
    transcript = next(f for f in report.features if f.feature == "video/transcript")
    assert (transcript.migrated, transcript.skipped) == (2, 1)
    stale = store.resolve_update("video/transcript").stale
    assert stale["sample_uid"].to_list() == [2]


def test_code_versions_that_do_not_match_the_definition_are_refused(store: mx.MetadataStore) -> None:
    _materialize(store, [1])
    bump("video/raw", "audio", "2")
    history = _history(store)
    with pytest.raises(MigrationError, match="no field at code_version '3'"):
        mx.migrate_data_versions(store, "video/raw", new_code_version="3")
    with pytest.raises(MigrationError, match="'frames' is at code_version '1', not '2'"):
        mx.migrate_data_versions(store, "video/raw", new_code_version={"frames": "2"})
    with pytest.raises(MigrationError, match="no field 'video'"):
        mx.migrate_data_versions(store, "video/raw", new_code_version={"video": 2})
    assert _history(store) == history


def test_migrating_twice_does_nothing_the_second_time(store: mx.MetadataStore) -> None:
    _materialize(store, [1, 2])
    bump("video/raw", "frames", "2")
    mx.migrate_data_versions(store, "video/raw")
    again = mx.migrate_data_versions(store, "video/raw", new_code_version=2)
    assert again.migrated == 0
    assert store.read_metadata("video/faces", history=True).collect().height == 4
    assert store.read_metadata("video/faces").filter(pl.col("sample_uid") == 1).collect().height == 1

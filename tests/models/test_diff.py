"""Impact analysis between graphs: field-level, with reasons, JSON-able."""

from __future__ import annotations

import json

import metaxy as mx
from tests.stores.graphs import bump, video_graph


def _snapshot() -> mx.FeatureGraph:
    return mx.FeatureGraph.from_snapshot(mx.FeatureGraph.get_active().snapshot())


def test_identical_graphs_have_no_diff() -> None:
    video_graph()
    diff = mx.diff_graphs(_snapshot(), mx.FeatureGraph.get_active())
    assert diff.is_empty
    assert diff.to_dict()["changed"] == []


def test_an_audio_change_reaches_audio_readers_only() -> None:
    video_graph()
    old = _snapshot()
    bump("video/raw", "audio", "2")
    diff = mx.diff_graphs(old, mx.FeatureGraph.get_active())
    assert [c.feature.to_string() for c in diff.direct] == ["video/raw"]
    (raw,) = diff.direct
    (audio,) = raw.fields
    assert (audio.field.to_string(), audio.reason, audio.old_code_version, audio.new_code_version) == (
        "audio",
        "code",
        "1",
        "2",
    )
    assert audio.old_version == old.field_version("video/raw", "audio")
    assert audio.new_version == mx.FeatureGraph.get_active().field_version("video/raw", "audio")
    # transcript reads audio, faces reads frames only: faces is not impacted
    assert [(c.feature.to_string(), [f.to_string() for f in c.stale_fields]) for c in diff.impacted] == [
        ("video/transcript", ["text"])
    ]
    assert diff.impacted[0].fields[0].reason == "upstream"


def test_added_removed_and_new_fields_are_reported() -> None:
    g = video_graph()
    old = _snapshot()
    graph = mx.FeatureGraph.get_active()
    graph.remove_feature(g.faces)
    spec = graph.spec("video/transcript")
    graph.add_feature(spec.model_copy(update={"fields": (*spec.fields, mx.FieldSpec(key="lang"))}))
    graph.add_feature(mx.FeatureSpec(key="video/extra"))
    diff = mx.diff_graphs(old.snapshot(), graph.snapshot())  # snapshots work as inputs too
    assert [k.to_string() for k in diff.added] == ["video/extra"]
    assert [k.to_string() for k in diff.removed] == ["video/faces"]
    (transcript,) = diff.direct
    assert [(f.field.to_string(), f.reason, f.old_version) for f in transcript.fields] == [
        ("lang", "added", None)
    ]


def test_to_dict_is_json_able_and_complete() -> None:
    video_graph()
    old = _snapshot()
    bump("video/raw", "frames", "7")
    data = mx.diff_graphs(old, mx.FeatureGraph.get_active()).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "old_project_version",
        "new_project_version",
        "added",
        "removed",
        "changed",
        "impacted",
    }
    assert [c["feature"] for c in data["changed"]] == ["video/raw"]
    assert [c["feature"] for c in data["impacted"]] == ["video/faces"]
    assert data["changed"][0]["fields"][0]["new_code_version"] == "7"

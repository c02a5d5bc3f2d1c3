"""Frozen definition-level versions (docs/concepts.md#definition-level-versions-static). A changed value here breaks every user's store."""

from __future__ import annotations

import metaxy as mx


def feature(
    key: str, fields: dict[str, str], deps: list[object] | None = None, **field_deps: object
) -> type[mx.Feature]:
    specs = [mx.FieldSpec(key=k, code_version=v, deps=field_deps.get(k)) for k, v in fields.items()]  # type: ignore[arg-type]
    return type(key, (mx.Feature,), {}, spec=mx.FeatureSpec(key=key, fields=specs, deps=deps or []))


def test_single_field_feature_matches_the_design_vector() -> None:
    f = feature("test/feature", {"default": "1"})
    assert f.field_versions() == {"default": "8bcff601"}
    assert f.feature_version() == "d26937b1"


def test_default_mapping_vectors_for_parent_and_child() -> None:
    parent = feature("parent", {"a": "1", "b": "1"})
    child = feature("child/x", {"derived": "1", "a": "2"}, deps=[parent])
    assert parent.feature_version() == "75584f76"
    assert child.feature_version() == "aa4c0dea"


def test_multi_level_graph_vectors() -> None:
    video = feature("video/raw", {"audio": "1", "frames": "1"})
    audio = feature(
        "video/audio",
        {"waveform": "3"},
        deps=[video],
        waveform=[mx.FieldDep(feature=video, fields=["audio"])],
    )
    transcript = feature("video/transcript", {"text": "1", "language": "2"}, deps=[audio, video])
    # computed independently with hashlib from the recipe in docs/concepts.md
    assert video.field_versions() == {"audio": "7132721c", "frames": "3cc120b6"}
    assert audio.field_versions() == {"waveform": "19c03b8d"}
    # text/language have no namesake upstream: they read every upstream field, sorted by label
    assert transcript.field_versions() == {"language": "e815e737", "text": "c9bb3dc3"}
    assert transcript.feature_version() == "229cc3d1"


def test_field_version_ignores_unrelated_upstream_fields() -> None:
    v1 = feature("video/raw", {"audio": "1", "frames": "1"})
    faces = feature(
        "video/faces", {"boxes": "1"}, deps=[v1], boxes=[mx.FieldDep(feature=v1, fields=["frames"])]
    )
    before, audio_before = faces.feature_version(), v1.field_versions()["audio"]
    v2 = feature("video/raw", {"audio": "2", "frames": "1"})  # same key, replaces the definition
    assert v2.field_versions()["audio"] != audio_before
    assert faces.feature_version() == before


def test_code_version_change_propagates_downstream() -> None:
    parent = feature("parent", {"a": "1", "b": "1"})
    child = feature("child/x", {"derived": "1", "a": "2"}, deps=[parent])
    before = child.field_versions()
    feature("parent", {"a": "1", "b": "9"})
    after = child.field_versions()
    assert after["derived"] != before["derived"]  # derived reads parent.b
    assert after["a"] == before["a"]  # a reads parent.a only

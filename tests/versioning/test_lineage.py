"""Aggregation (N:1), expansion (1:N) and optional dependencies, with frozen vectors."""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import DefinitionError
from metaxy.versioning.hashing import HashSettings, hash_text

H = HashSettings()  # xxhash32, truncation 8


def prov(rows: dict[tuple[object, ...], dict[str, str]], ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        [dict(zip(ids, k, strict=True), metaxy_provenance_by_field=v) for k, v in rows.items()]
    )


def test_aggregation_hashes_group_members_in_upstream_id_order() -> None:
    class Chunk(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="audio/chunk", id_columns=["speaker", "chunk"], fields=[mx.FieldSpec(key="emb")]
        ),
    ):
        pass

    class Speaker(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="audio/speaker",
            id_columns=["speaker"],
            deps=[mx.FeatureDep(feature=Chunk, lineage=mx.LineageRelationship.aggregation(on=["speaker"]))],
            fields=[mx.FieldSpec(key="profile", code_version="1")],
        ),
    ):
        pass

    rows = {("s1", 2): {"emb": "e12"}, ("s1", 1): {"emb": "e11"}, ("s2", 1): {"emb": "e21"}}
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Chunk, prov(rows, ["speaker", "chunk"]))
        new = store.resolve_update(Speaker).new.sort("speaker")
        group = hash_text("e11|e12", H)  # chunk 1 before chunk 2, whatever the write order
        assert group == "20449553"  # frozen: xxhash32 of "e11|e12"
        expected_s1 = hash_text(f"profile|1|audio/chunk.emb|{group}", H)
        assert new["metaxy_provenance_by_field"].to_list()[0] == {"profile": expected_s1}
        assert new["metaxy_provenance_by_field"].to_list()[0] == {"profile": "37250596"}
        assert new.height == 2

        store.write_metadata(Speaker, new)
        store.write_metadata(Chunk, prov({("s1", 3): {"emb": "e13"}}, ["speaker", "chunk"]))
        inc = store.resolve_update(Speaker)
        assert inc.stale["speaker"].to_list() == ["s1"]  # a new member changes only its group
        assert inc.new.height == inc.orphaned.height == 0


def expansion_graph() -> tuple[type[mx.Feature], type[mx.Feature]]:
    class Video(
        mx.Feature,
        spec=mx.FeatureSpec(key="video", id_columns=["video_id"], fields=[mx.FieldSpec(key="frames")]),
    ):
        pass

    class Clip(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/clip",
            id_columns=["video_id", "clip"],
            deps=[mx.FeatureDep(feature=Video, lineage=mx.LineageRelationship.expansion(on=["video_id"]))],
            fields=[mx.FieldSpec(key="frames", code_version="1")],
        ),
    ):
        pass

    return Video, Clip


def test_expansion_compares_children_with_their_parent() -> None:
    video, clip = expansion_graph()
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(
            video, prov({("v1",): {"frames": "f1"}, ("v2",): {"frames": "f2"}}, ["video_id"])
        )
        inc = store.resolve_update(clip)
        assert sorted(inc.new["video_id"]) == ["v1", "v2"]  # counted per parent
        v1 = inc.new.filter(pl.col("video_id") == "v1")["metaxy_provenance_by_field"].item()
        assert v1 == {"frames": "13265425"}  # frozen: xxhash32 of "frames|1|video.frames|f1"
        children = inc.new.join(pl.DataFrame({"clip": [0, 1, 2]}), how="cross")
        store.write_metadata(clip, children)
        assert store.resolve_update(clip).is_empty

        store.write_metadata(video, prov({("v1",): {"frames": "f1-new"}}, ["video_id"]))
        store.delete_metadata(video, filters=pl.col("video_id") == "v2")
        inc = store.resolve_update(clip)
        assert inc.stale["video_id"].to_list() == ["v1"]
        assert sorted(inc.orphaned.select("video_id", "clip").rows()) == [("v2", 0), ("v2", 1), ("v2", 2)]


def test_optional_dependency_contributes_empty_string_when_missing() -> None:
    class Audio(mx.Feature, spec=mx.FeatureSpec(key="audio", fields=[mx.FieldSpec(key="wav")])):
        pass

    class Text(mx.Feature, spec=mx.FeatureSpec(key="text", fields=[mx.FieldSpec(key="txt")])):
        pass

    class Joint(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="joint",
            deps=[mx.FeatureDep(feature=Audio), mx.FeatureDep(feature=Text, optional=True)],
            fields=[mx.FieldSpec(key="emb", code_version="1")],
        ),
    ):
        pass

    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Audio, prov({(1,): {"wav": "w1"}, (2,): {"wav": "w2"}}, ["sample_uid"]))
        store.write_metadata(Text, prov({(1,): {"txt": "t1"}}, ["sample_uid"]))
        new = store.resolve_update(Joint).new.sort("sample_uid")
        by_field = new["metaxy_provenance_by_field"].to_list()
        assert by_field[0] == {"emb": hash_text("emb|1|audio.wav|w1|text.txt|t1", H)}
        assert by_field[1] == {"emb": hash_text("emb|1|audio.wav|w2|text.txt|", H)}


@pytest.mark.parametrize(
    ("lineage", "id_columns", "message"),
    [
        (
            mx.LineageRelationship.aggregation(on=["other"]),
            ["sample_uid"],
            "must equal this feature's id columns",
        ),
        (mx.LineageRelationship.expansion(on=["sample_uid"]), ["sample_uid"], "strict subset"),
    ],
)
def test_inconsistent_lineage_is_refused(
    lineage: mx.LineageRelationship, id_columns: list[str], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        mx.FeatureSpec(key="x", id_columns=id_columns, deps=[mx.FeatureDep(feature="up", lineage=lineage)])

"""``store.lookup(**ids)``: one sample's state in every feature, on every store, and why it is stale."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import VersioningError
from metaxy.stores._lookup import LOOKUP_SCHEMA
from tests.stores.graphs import bump


def _videos(*rows: tuple[int, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sample_uid": [uid for uid, _ in rows],
            "metaxy_provenance_by_field": [{"audio": audio, "frames": "f"} for _, audio in rows],
        }
    )


def _graph() -> tuple[type[mx.Feature], type[mx.Feature]]:
    fields = [mx.FieldSpec(key="audio"), mx.FieldSpec(key="frames")]

    class Video(mx.Feature, spec=mx.FeatureSpec(key="lk/video", fields=fields)):
        pass

    class Emb(mx.Feature, spec=mx.FeatureSpec(key="lk/emb", deps=[Video], fields=fields)):
        pass

    return Video, Emb


def _by_feature(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["feature"]: r for r in frame.to_dicts()}


def test_lookup_names_the_field_and_the_upstream_field_that_made_a_sample_stale(
    store: mx.MetadataStore, graph: mx.FeatureGraph
) -> None:
    Video, Emb = _graph()
    store.write_metadata(Video, _videos((1, "a"), (2, "a"), (3, "a")))
    store.write_metadata(Emb, store.resolve_update(Emb).new.filter(pl.col("sample_uid") != 3))
    store.write_metadata(Video, _videos((1, "a2")))

    frame = store.lookup(sample_uid=1)
    assert frame.schema == LOOKUP_SCHEMA
    rows = _by_feature(frame)
    assert (rows["lk/video"]["status"], rows["lk/video"]["stored"]) == ("current", True)
    emb = rows["lk/emb"]
    assert (emb["status"], emb["stored"], emb["stale_fields"]) == ("stale", True, ["audio"])
    assert emb["reason"] == "field 'audio': upstream lk/video.audio changed"
    assert emb["provenance"] != emb["expected_provenance"]
    assert _by_feature(store.lookup(sample_uid=2))["lk/emb"]["status"] == "current"
    assert _by_feature(store.lookup(sample_uid=3))["lk/emb"]["status"] == "new"
    absent = store.lookup({"sample_uid": 9})
    assert absent.select("feature", "stored", "status").rows() == [
        ("lk/video", False, "absent"),
        ("lk/emb", False, "absent"),
    ]


def test_lookup_reports_a_definition_change_and_orphans(graph: mx.FeatureGraph) -> None:
    Video, Emb = _graph()
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Video, _videos((1, "a"), (2, "a")))
        store.write_metadata(Emb, store.resolve_update(Emb).new)
        store.delete_metadata(Video, filters=pl.col("sample_uid") == 2)

        bump("lk/emb", "audio", "2")
        rows = _by_feature(store.lookup(sample_uid=1))
        assert rows["lk/emb"]["status"] == "stale"
        assert rows["lk/emb"]["stale_fields"] == ["audio"]
        assert rows["lk/emb"]["reason"].startswith("definition changed (feature version ")
        gone = _by_feature(store.lookup(sample_uid=2))
        assert (gone["lk/video"]["status"], gone["lk/emb"]["status"]) == ("absent", "orphaned")


def test_lookup_of_an_unmaterialized_upstream_says_so(graph: mx.FeatureGraph) -> None:
    Video, Emb = _graph()

    class Leaf(mx.Feature, spec=mx.FeatureSpec(key="lk/leaf", deps=[Emb])):
        pass

    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Video, _videos((1, "a")))
        rows = _by_feature(store.lookup(sample_uid="1"))  # typed like the stored column
    assert rows["lk/emb"]["status"] == "new"
    assert rows["lk/leaf"]["status"] == "upstream-missing"
    assert "current feature version" in rows["lk/leaf"]["reason"]


def test_lookup_by_a_parent_id_lists_every_child_of_an_expansion(graph: mx.FeatureGraph) -> None:
    class Video(mx.Feature, spec=mx.FeatureSpec(key="lk/v", id_columns=["vid"])):
        pass

    class Clip(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="lk/clip",
            id_columns=["vid", "i"],
            deps=[mx.FeatureDep(feature=Video, lineage=mx.LineageRelationship.expansion(on=["vid"]))],
        ),
    ):
        pass

    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(
            Video, pl.DataFrame({"vid": ["a"], "metaxy_provenance_by_field": [{"default": "1"}]})
        )
        parent = store.resolve_update(Clip).new
        store.write_metadata(Clip, parent.join(pl.DataFrame({"i": [0, 1]}), how="cross"))
        assert store.lookup(vid="a").select("feature", "sample", "status").rows() == [
            ("lk/v", '{"vid": "a"}', "current"),
            ("lk/clip", '{"vid": "a", "i": 0}', "current"),
            ("lk/clip", '{"vid": "a", "i": 1}', "current"),
        ]
        store.write_metadata(
            Video, pl.DataFrame({"vid": ["a"], "metaxy_provenance_by_field": [{"default": "2"}]})
        )
        clips = store.lookup(vid="a").filter(pl.col("feature") == "lk/clip")
        assert clips["status"].to_list() == ["stale", "stale"]
        assert clips["reason"].to_list() == ["field 'default': upstream lk/v.default changed"] * 2


@pytest.mark.parametrize(
    ("ids", "message"),
    [({}, "needs at least one id"), ({"speaker": 1}, "no feature has the id column")],
)
def test_lookup_refuses_ids_no_feature_has(graph: mx.FeatureGraph, ids: dict[str, Any], message: str) -> None:
    _graph()
    with mx.InMemoryMetadataStore() as store, pytest.raises(VersioningError, match=message):
        store.lookup(ids)


def test_lookup_refuses_a_value_of_the_wrong_type(graph: mx.FeatureGraph) -> None:
    Video, _ = _graph()
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Video, _videos((1, "a")))
        with pytest.raises(VersioningError, match=r"sample_uid='x' cannot be compared"):
            store.lookup(sample_uid="x")

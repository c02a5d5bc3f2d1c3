"""Behaviour every store must share. Tests never name a backend: the ``store`` fixture varies."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import (
    FeatureNotFoundError,
    MissingSamplesError,
    SchemaError,
    StoreClosedError,
    StoreError,
)
from tests.stores.conftest import StoreFactory
from tests.stores.graphs import video_graph, videos

SYSTEM = {
    "metaxy_provenance_by_field",
    "metaxy_provenance",
    "metaxy_data_version_by_field",
    "metaxy_data_version",
    "metaxy_feature_version",
    "metaxy_project_version",
    "metaxy_created_at",
    "metaxy_updated_at",
    "metaxy_deleted_at",
    "metaxy_materialization_id",
}


def test_write_then_read_round_trips_with_system_columns(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    out = store.read_metadata(g.video).collect().sort("sample_uid")
    assert SYSTEM <= set(out.columns)
    assert out["sample_uid"].to_list() == [1, 2, 3]
    assert out["path"].to_list() == ["v1.mp4", "v2.mp4", "v3.mp4"]
    assert out["metaxy_provenance_by_field"][0] == {"audio": "a1", "frames": "f1"}
    assert set(out["metaxy_feature_version"]) == {g.video.feature_version()}
    assert out["metaxy_data_version_by_field"].to_list() == out["metaxy_provenance_by_field"].to_list()


def test_read_returns_a_lazy_frame(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    assert isinstance(store.read_metadata(g.video), pl.LazyFrame)


def test_latest_row_wins_and_history_keeps_every_row(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    store.write_metadata(g.video, videos([2], audio="b"))
    latest = store.read_metadata(g.video).collect().sort("sample_uid")
    assert latest["metaxy_provenance_by_field"].to_list()[1] == {"audio": "b2", "frames": "f2"}
    assert store.read_metadata(g.video, history=True).collect().height == 3


def test_filters_and_columns(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    out = store.read_metadata(
        g.video, filters=pl.col("sample_uid") >= 2, columns=["sample_uid", "path"]
    ).collect()
    assert out.columns == ["sample_uid", "path"]
    assert sorted(out["sample_uid"]) == [2, 3]
    both = store.read_metadata(g.video, filters=[pl.col("sample_uid") >= 2, pl.col("path") == "v3.mp4"])
    assert both.collect()["sample_uid"].to_list() == [3]


def test_filters_apply_after_latest_row_wins(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    store.write_metadata(g.video, videos([1]).with_columns(path=pl.lit("moved.mp4")))
    out = store.read_metadata(g.video, filters=pl.col("path") == "v1.mp4").collect()
    assert out.height == 0  # the old row must not resurface through the filter


def test_soft_delete_hides_rows_but_keeps_history(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    assert store.delete_metadata(g.video, filters=pl.col("sample_uid") == 2) == 1
    assert sorted(store.read_metadata(g.video).collect()["sample_uid"]) == [1, 3]
    assert store.read_metadata(g.video, include_deleted=True).collect().height == 3
    assert store.read_metadata(g.video, history=True).collect().height == 4


def test_hard_delete_removes_rows(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    store.write_metadata(g.video, videos([2], audio="b"))
    assert store.delete_metadata(g.video, filters=pl.col("sample_uid") == 2, soft=False) == 2
    assert store.read_metadata(g.video, history=True).collect()["sample_uid"].sort().to_list() == [1, 3]
    store.delete_metadata(g.video, soft=False)
    assert g.video.key() not in store.list_features()


def test_other_feature_versions_stay_readable(store: mx.MetadataStore, graph: mx.FeatureGraph) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    old_version = g.video.feature_version()
    graph.add_feature(
        g.video.spec().model_copy(
            update={"fields": (mx.FieldSpec(key="audio", code_version="2"), mx.FieldSpec(key="frames"))}
        )
    )
    with pytest.raises(FeatureNotFoundError, match="at feature version"):
        store.read_metadata("video/raw")
    assert store.read_metadata("video/raw", feature_version=old_version).collect().height == 2
    assert store.read_metadata("video/raw", all_versions=True).collect().height == 2


def test_has_feature_and_list_features(store: mx.MetadataStore) -> None:
    g = video_graph()
    assert not store.has_feature(g.video)
    store.write_metadata(g.video, videos([1]))
    assert store.has_feature(g.video)
    assert store.list_features() == [g.video.key()]


def test_reading_an_unknown_feature_is_a_clear_error(store: mx.MetadataStore) -> None:
    g = video_graph()
    with pytest.raises(FeatureNotFoundError, match="No metadata for feature 'video/raw'"):
        store.read_metadata(g.video)


def test_resolve_update_is_idempotent_and_field_level(store: mx.MetadataStore) -> None:
    g = video_graph()
    inc = store.resolve_update(g.video, samples=videos([1, 2, 3]))
    assert inc.counts == {"new": 3, "stale": 0, "orphaned": 0}
    store.write_metadata(g.video, inc.new)
    assert store.resolve_update(g.video, samples=videos([1, 2, 3])).is_empty
    for feature in (g.transcript, g.faces):
        store.write_metadata(feature, store.resolve_update(feature).new)
        assert store.resolve_update(feature).is_empty

    store.write_metadata(g.video, videos([2], audio="changed"))  # only audio of sample 2 changes
    assert store.resolve_update(g.transcript).stale["sample_uid"].to_list() == [2]
    assert store.resolve_update(g.faces).is_empty

    store.delete_metadata(g.video, filters=pl.col("sample_uid") == 3)
    store.write_metadata(g.video, videos([4]))
    inc = store.resolve_update(g.faces)
    assert inc.new["sample_uid"].to_list() == [4]
    assert inc.orphaned["sample_uid"].to_list() == [3]
    stored = store.read_metadata(g.faces, filters=pl.col("sample_uid") == 3).collect()
    assert inc.orphaned.columns == stored.columns  # orphans come back as the full stored rows
    assert inc.orphaned.equals(stored)
    assert store.resolve_update(g.faces, lazy=True).collect().orphaned.equals(stored)


def test_lazy_increment_collects_to_the_same_result(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    lazy = store.resolve_update(g.transcript, lazy=True)
    assert isinstance(lazy.new, pl.LazyFrame)
    assert lazy.collect().counts == store.resolve_update(g.transcript).counts


def test_resolve_update_filters_restrict_the_increment(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    inc = store.resolve_update(g.transcript, filters=pl.col("sample_uid") > 1)
    assert sorted(inc.new["sample_uid"]) == [2, 3]


def test_calculate_and_write_data_versions(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    written = store.calculate_and_write_data_versions(
        g.transcript, pl.DataFrame({"sample_uid": [1, 2], "text": ["a", "b"]})
    )
    assert written.height == 2
    assert "metaxy_provenance" in written.columns
    assert store.resolve_update(g.transcript).is_empty
    with pytest.raises(SchemaError, match="no upstream rows"):
        store.calculate_and_write_data_versions(
            g.transcript, pl.DataFrame({"sample_uid": [9], "text": ["z"]})
        )


def test_copy_metadata_between_stores(store_factory: StoreFactory) -> None:
    g = video_graph()
    with store_factory() as source, mx.InMemoryMetadataStore() as target:
        source.write_metadata(g.video, videos([1, 2]))
        assert target.copy_metadata(source) == {g.video.key(): 2}
        copied = target.read_metadata(g.video).collect()
        original = source.read_metadata(g.video).collect()
        assert (
            copied.sort("sample_uid")["metaxy_created_at"].to_list()
            == original.sort("sample_uid")["metaxy_created_at"].to_list()
        )


def test_delete_metadata_by_an_id_frame_removes_the_orphans(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    store.write_metadata(g.faces, store.resolve_update(g.faces).new)
    store.delete_metadata(g.video, filters=pl.col("sample_uid") == 3)
    orphaned = store.resolve_update(g.faces).orphaned
    assert orphaned["sample_uid"].to_list() == [3]
    assert store.delete_metadata(g.faces, samples=orphaned) == 1
    assert store.resolve_update(g.faces).is_empty
    assert sorted(store.read_metadata(g.faces).collect()["sample_uid"]) == [1, 2]
    assert store.delete_metadata(g.faces, samples=orphaned.clear()) == 0  # an empty frame deletes nothing
    ids = pl.DataFrame({"sample_uid": [1]})
    assert store.delete_metadata(g.faces, samples=ids, soft=False) == 1  # every stored row of sample 1
    assert sorted(store.read_metadata(g.faces, history=True).collect()["sample_uid"].unique()) == [2, 3]


def test_copy_metadata_twice_appends_nothing_the_second_time(store: mx.MetadataStore) -> None:
    g = video_graph()
    with mx.InMemoryMetadataStore() as other:
        other.write_metadata(g.video, videos([1, 2]))
        assert store.copy_metadata(other) == {g.video.key(): 2}
        assert store.copy_metadata(other) == {g.video.key(): 0}  # rows already held are skipped
        other.write_metadata(g.video, videos([2, 3], audio="b"))
        assert store.copy_metadata(other) == {g.video.key(): 2}  # only the new rows
        assert store.read_metadata(g.video, history=True, allow_fallback=False).collect().height == 4
        assert other.copy_metadata(store) == {g.video.key(): 0}  # and back: nothing new either


def test_copy_metadata_refuses_to_copy_a_store_into_itself(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    with pytest.raises(StoreError, match="into itself"):
        store.copy_metadata(store)
    assert store.read_metadata(g.video, history=True, allow_fallback=False).collect().height == 1


# -- bad input -------------------------------------------------------------------------------------


def test_missing_id_column_names_feature_and_column(store: mx.MetadataStore) -> None:
    g = video_graph()
    with pytest.raises(SchemaError, match=r"'video/raw'.*\['sample_uid'\] missing"):
        store.write_metadata(g.video, videos([1]).drop("sample_uid"))


def test_null_ids_are_refused(store: mx.MetadataStore) -> None:
    g = video_graph()
    frame = videos([1, 2]).with_columns(
        pl.when(pl.col("sample_uid") == 2).then(None).otherwise(pl.col("sample_uid")).alias("sample_uid")
    )
    with pytest.raises(SchemaError, match="null"):
        store.write_metadata(g.video, frame)


def test_duplicate_ids_in_one_write_are_refused(store: mx.MetadataStore) -> None:
    g = video_graph()
    with pytest.raises(SchemaError, match="share an id"):
        store.write_metadata(g.video, pl.concat([videos([1]), videos([1])]))
    assert not store.has_feature(g.video)  # nothing was written


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pl.lit("x"), "not a struct"),
        (pl.struct(audio=pl.lit("a")), r"expected \['audio', 'frames'\]"),
        (pl.struct(audio=pl.lit("a"), frames=pl.lit(1)), "not a string"),
    ],
)
def test_wrong_provenance_shape_is_refused(store: mx.MetadataStore, column: pl.Expr, message: str) -> None:
    g = video_graph()
    with pytest.raises(SchemaError, match=message):
        store.write_metadata(g.video, videos([1]).with_columns(column.alias("metaxy_provenance_by_field")))


def test_root_feature_without_samples_is_refused(store: mx.MetadataStore) -> None:
    g = video_graph()
    with pytest.raises(MissingSamplesError, match="root feature"):
        store.resolve_update(g.video)


def test_closed_store_is_refused(store_factory: StoreFactory) -> None:
    g = video_graph()
    store = store_factory()
    with pytest.raises(StoreClosedError, match="with store"):
        store.write_metadata(g.video, videos([1]))
    with store, store:  # opening twice is safe
        store.write_metadata(g.video, videos([1]))
    with pytest.raises(StoreClosedError):
        store.read_metadata(g.video)


def _clips() -> type[mx.Feature]:
    """A feature identified by two columns (``video``, ``clip``)."""

    class Clip(
        mx.Feature,
        spec=mx.FeatureSpec(key="multi/clip", id_columns=["video", "clip"], fields=[mx.FieldSpec(key="f")]),
    ):
        pass

    return Clip


def _clip_rows(pairs: list[tuple[str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "video": [v for v, _ in pairs],
            "clip": [c for _, c in pairs],
            "metaxy_provenance_by_field": [{"f": f"{v}{c}"} for v, c in pairs],
        },
        schema_overrides={"clip": pl.Int64},
    )


def _stored_pairs(store: mx.MetadataStore, feature: type[mx.Feature], **kwargs: Any) -> list[tuple[str, int]]:
    rows = store.read_metadata(feature, **kwargs).select("video", "clip").collect()
    return sorted(rows.iter_rows())


@pytest.mark.parametrize("soft", [True, False], ids=["soft", "hard"])
def test_delete_by_an_id_frame_matches_every_id_column_together(store: mx.MetadataStore, soft: bool) -> None:
    """(a, 2) is deleted; (a, 1) and (b, 2), which share one of its two ids, are not."""
    clip = _clips()
    store.write_metadata(clip, _clip_rows([("a", 1), ("a", 2), ("b", 1), ("b", 2)]))
    samples = pl.DataFrame({"video": ["a"], "clip": [2]}, schema_overrides={"clip": pl.Int64})
    assert store.delete_metadata(clip, samples=samples, soft=soft) == 1
    assert _stored_pairs(store, clip) == [("a", 1), ("b", 1), ("b", 2)]
    if not soft:
        assert _stored_pairs(store, clip, history=True) == [("a", 1), ("b", 1), ("b", 2)]


def test_delete_by_a_frame_of_some_id_columns_matches_every_row_with_those_values(
    store: mx.MetadataStore,
) -> None:
    clip = _clips()
    store.write_metadata(clip, _clip_rows([("a", 1), ("a", 2), ("b", 1)]))
    assert store.delete_metadata(clip, samples=pl.DataFrame({"video": ["a"]})) == 2  # every clip of video a
    assert _stored_pairs(store, clip) == [("b", 1)]


def test_delete_by_a_frame_without_the_id_columns_is_refused_and_deletes_nothing(
    store: mx.MetadataStore,
) -> None:
    clip = _clips()
    store.write_metadata(clip, _clip_rows([("a", 1), ("b", 1)]))
    for soft in (True, False):
        with pytest.raises(SchemaError, match=r"none of the id columns \['video', 'clip'\]"):
            store.delete_metadata(clip, samples=pl.DataFrame({"vid": ["a"], "clp": [1]}), soft=soft)
    assert _stored_pairs(store, clip) == [("a", 1), ("b", 1)]


def test_delete_by_an_id_frame_of_another_dtype_is_refused_and_deletes_nothing(
    store: mx.MetadataStore,
) -> None:
    clip = _clips()
    store.write_metadata(clip, _clip_rows([("a", 1), ("b", 1)]))
    samples = pl.DataFrame({"video": ["a"], "clip": ["1"]})  # clip stored as Int64
    for soft in (True, False):
        with pytest.raises(SchemaError, match="'clip'"):
            store.delete_metadata(clip, samples=samples, soft=soft)
    assert _stored_pairs(store, clip) == [("a", 1), ("b", 1)]

"""``store_status``: the counts behind ``metaxy status``, on a small chain of features."""

from __future__ import annotations

import polars as pl

import metaxy as mx
from metaxy.constants import PROVENANCE_BY_FIELD
from metaxy.models.keys import FeatureKey
from metaxy.ops.status import store_status


def test_status_counts_and_reports_progress_per_feature(graph: mx.FeatureGraph) -> None:
    class Root(mx.Feature, spec=mx.FeatureSpec(key="root")):
        pass

    class Leaf(mx.Feature, spec=mx.FeatureSpec(key="leaf", deps=[mx.FeatureDep(feature=Root)])):
        pass

    seen: list[FeatureKey] = []
    with mx.InMemoryMetadataStore() as store:
        assert [s.state for s in store_status(store, graph)] == ["empty", "upstream-missing"]
        samples = pl.DataFrame({"sample_uid": ["a", "b"]}).with_columns(
            pl.struct(pl.lit("x").alias("default")).alias(PROVENANCE_BY_FIELD)
        )
        store.write_metadata(Root, samples)
        rows = store_status(store, graph, on_feature=seen.append)
    assert seen == [FeatureKey("root"), FeatureKey("leaf")]
    by_key = {r.key.to_string(): r.to_dict() for r in rows}
    assert by_key["root"] == {
        "feature": "root",
        "root": True,
        "stored": 2,
        "new": 0,
        "stale": 0,
        "orphaned": 0,
        "state": "in-sync",
        "unit": "samples",
        "failed": 0,
    }
    assert (by_key["leaf"]["new"], by_key["leaf"]["state"]) == (2, "to-do")


def test_expansion_status_says_increments_count_parents_while_stored_counts_children(
    graph: mx.FeatureGraph,
) -> None:
    class Video(
        mx.Feature, spec=mx.FeatureSpec(key="video", id_columns=["vid"], fields=[mx.FieldSpec(key="f")])
    ):
        pass

    class Clip(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="clip",
            id_columns=["vid", "i"],
            deps=[mx.FeatureDep(feature=Video, lineage=mx.LineageRelationship.expansion(on=["vid"]))],
            fields=[mx.FieldSpec(key="f")],
        ),
    ):
        pass

    videos = pl.DataFrame({"vid": ["a", "b"]}).with_columns(
        pl.struct(pl.lit("x").alias("f")).alias(PROVENANCE_BY_FIELD)
    )
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Video, videos)
        todo = store.resolve_update(Clip).new
        store.write_metadata(
            Clip, todo.filter(pl.col("vid") == "a").join(pl.DataFrame({"i": [0, 1, 2]}), how="cross")
        )
        rows = {r.key.to_string(): r for r in store_status(store, graph)}
    clip = rows["clip"]
    assert (clip.stored, clip.new, clip.unit) == (3, 1, "parents")  # 3 children stored, 1 parent to expand
    assert clip.to_dict()["unit"] == "parents"
    assert rows["video"].unit == "samples"


def test_status_after_a_code_bump_counts_the_stale_samples_of_a_blocked_feature(
    graph: mx.FeatureGraph,
) -> None:
    def define(code_version: str) -> None:
        class Root(
            mx.Feature,
            spec=mx.FeatureSpec(key="root", fields=[mx.FieldSpec(key="default", code_version=code_version)]),
        ):
            pass

        class Leaf(mx.Feature, spec=mx.FeatureSpec(key="leaf", deps=[mx.FeatureDep(feature=Root)])):
            pass

    define("1")
    samples = pl.DataFrame({"sample_uid": ["a", "b", "c"]}).with_columns(
        pl.struct(pl.lit("x").alias("default")).alias(PROVENANCE_BY_FIELD)
    )
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata("root", samples)
        store.write_metadata("leaf", store.resolve_update("leaf").new)
        define("2")  # the root's code changed: every leaf sample must be recomputed
        rows = {r.key.to_string(): r for r in store_status(store, graph)}
    assert (rows["root"].stale, rows["root"].state) == (3, "to-do")
    assert (rows["leaf"].stale, rows["leaf"].state) == (3, "upstream-missing")

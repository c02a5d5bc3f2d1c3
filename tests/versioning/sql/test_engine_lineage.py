"""The SQL engine on every lineage shape (aggregation, expansion, renames, dependency filters, optional
deps, carried columns), after a change upstream: DuckDB and ClickHouse (chdb) equal Polars."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest

import metaxy as mx
from tests.versioning.sql.harness import ClickHouseRunner, assert_same_increment, keys_of

Builder = Callable[[mx.FeatureGraph], tuple[str, dict[str, list[pl.DataFrame]]]]


def by_field(ids: dict[str, list[object]], values: list[dict[str, str]]) -> pl.DataFrame:
    return pl.DataFrame({**ids, "metaxy_provenance_by_field": values})


def aggregation(graph: mx.FeatureGraph) -> tuple[str, dict[str, list[pl.DataFrame]]]:
    graph.add_feature(
        mx.FeatureSpec(key="chunk", id_columns=["speaker", "chunk"], fields=[mx.FieldSpec(key="emb")])
    )
    graph.add_feature(
        mx.FeatureSpec(
            key="speaker",
            id_columns=["speaker"],
            deps=[mx.FeatureDep(feature="chunk", lineage=mx.LineageRelationship.aggregation(on=["speaker"]))],
            fields=[mx.FieldSpec(key="profile")],
        )
    )
    first = by_field(
        {"speaker": ["s1", "s1", "s2", "s3"], "chunk": [2, 1, 1, 1]}, [{"emb": v} for v in "abcd"]
    )
    second = by_field({"speaker": ["s1"], "chunk": [3]}, [{"emb": "e"}])
    return "speaker", {"chunk": [first, second]}


def expansion(graph: mx.FeatureGraph) -> tuple[str, dict[str, list[pl.DataFrame]]]:
    graph.add_feature(
        mx.FeatureSpec(key="video", id_columns=["video_id"], fields=[mx.FieldSpec(key="frames")])
    )
    graph.add_feature(
        mx.FeatureSpec(
            key="clip",
            id_columns=["video_id", "clip"],
            deps=[mx.FeatureDep(feature="video", lineage=mx.LineageRelationship.expansion(on=["video_id"]))],
            fields=[mx.FieldSpec(key="frames")],
        )
    )
    first = by_field({"video_id": ["v1", "v2", "v3"]}, [{"frames": v} for v in "abc"])
    second = by_field({"video_id": ["v2", "v4"]}, [{"frames": v} for v in "xy"])
    return "clip", {"video": [first, second]}


def renamed_filtered_optional(graph: mx.FeatureGraph) -> tuple[str, dict[str, list[pl.DataFrame]]]:
    graph.add_feature(mx.FeatureSpec(key="left", id_columns=["uid"], fields=[mx.FieldSpec(key="a")]))
    graph.add_feature(mx.FeatureSpec(key="right", fields=[mx.FieldSpec(key="a"), mx.FieldSpec(key="b")]))
    graph.add_feature(
        mx.FeatureSpec(
            key="joined",
            deps=[
                mx.FeatureDep(feature="left", rename={"uid": "sample_uid", "note": "left_note"}),
                mx.FeatureDep(
                    feature="right", optional=True, filters=[pl.col("score") > 1], columns=["score"]
                ),
            ],
            fields=[mx.FieldSpec(key="a"), mx.FieldSpec(key="b")],
        )
    )
    left = by_field({"uid": [1, 2, 3, 4]}, [{"a": v} for v in "abcd"]).with_columns(note=pl.lit("n"))
    right = by_field({"sample_uid": [2, 3, 5]}, [{"a": "p", "b": "q"}] * 3).with_columns(
        score=pl.Series([0, 2, 3])
    )
    right2 = by_field({"sample_uid": [2]}, [{"a": "z", "b": "z"}]).with_columns(score=pl.Series([5]))
    return "joined", {"left": [left], "right": [right, right2]}


def all_optional(graph: mx.FeatureGraph) -> tuple[str, dict[str, list[pl.DataFrame]]]:
    graph.add_feature(mx.FeatureSpec(key="p", fields=[mx.FieldSpec(key="a")]))
    graph.add_feature(mx.FeatureSpec(key="q", fields=[mx.FieldSpec(key="a")]))
    graph.add_feature(mx.FeatureSpec(key="r", fields=[mx.FieldSpec(key="a")]))
    deps = [mx.FeatureDep(feature=k, optional=True, columns=[]) for k in "pqr"]
    graph.add_feature(mx.FeatureSpec(key="u", deps=deps, fields=[mx.FieldSpec(key="a")]))
    p = by_field({"sample_uid": [1, 2]}, [{"a": "x"}] * 2)
    q = by_field({"sample_uid": [2, 3]}, [{"a": "y"}] * 2)
    r = by_field({"sample_uid": [4]}, [{"a": "z"}])
    r2 = by_field({"sample_uid": [1]}, [{"a": "w"}])
    return "u", {"p": [p], "q": [q], "r": [r, r2]}


SHAPES = [aggregation, expansion, renamed_filtered_optional, all_optional]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.__name__)
@pytest.mark.parametrize("engine", ["duckdb-md5", "duckdb-sha256", "clickhouse-xxhash64", "clickhouse-md5"])
def test_sql_engine_equals_polars_on_lineage_shapes(shape: Builder, engine: str) -> None:
    backend, algorithm = engine.split("-")
    runner = ClickHouseRunner(algorithm) if backend == "clickhouse" else None
    graph = mx.FeatureGraph()
    with graph.use(), mx.DuckDBMetadataStore(":memory:", hash_algorithm=algorithm) as store:
        target, writes = shape(graph)
        key = mx.FeatureKey(target)
        rounds = max(len(frames) for frames in writes.values())
        for i in range(rounds):
            for upstream, frames in writes.items():
                if i < len(frames):
                    store.write_metadata(upstream, frames[i])
            store.versioning_engine = "polars"
            want = store.resolve_update(target)
            if runner is None:
                store.versioning_engine = "native"
                got = store.resolve_update(target)
            else:
                resolved = runner.resolve(store, graph.plan(key), graph)
                assert resolved is not None
                got = resolved
            assert_same_increment(got, want, keys_of(graph, key), f"{engine} {target} round {i}")
            assert want.new.height + want.stale.height + want.orphaned.height > 0
            todo = want.to_recompute()
            if target == "clip":  # expansion: each parent has two children
                todo = todo.join(pl.DataFrame({"clip": [0, 1]}), how="cross")
            store.write_metadata(target, todo)

"""Features as asset specs: keys, deps, code versions, schema, field-level lineage, kinds."""

from __future__ import annotations

import dagster as dg

import metaxy as mx
from metaxy.integrations.dagster import asset_key, feature_asset_spec, feature_asset_specs
from tests.integrations.dagster.pipeline import define


def test_one_feature_becomes_one_spec_with_its_definition() -> None:
    features = define()
    transcript = features["transcript"]
    spec = feature_asset_spec(transcript, kinds=["duckdb"], group_name="video")
    assert spec.key == dg.AssetKey(["video", "transcript"])
    assert {d.asset_key for d in spec.deps} == {dg.AssetKey(["video", "raw"])}
    assert spec.code_version == transcript.feature_version()
    assert spec.description == "Speech to text."
    assert spec.kinds == {"metaxy", "duckdb"}
    assert spec.group_name == "video"
    schema = spec.metadata["dagster/column_schema"]
    assert [(c.name, c.type) for c in schema.columns] == [("video_id", "id"), ("text", "str")]
    lineage = spec.metadata["dagster/column_lineage"].deps_by_column
    raw = dg.AssetKey(["video", "raw"])
    assert lineage["text"] == [dg.TableColumnDep(asset_key=raw, column_name="audio")]
    assert lineage["path"] == [dg.TableColumnDep(asset_key=raw, column_name="path")]
    assert spec.metadata["metaxy/feature_version"] == transcript.feature_version()
    assert spec.metadata["metaxy/fields"].value == {"text": "1"}


def test_a_whole_graph_in_one_call_upstream_first_with_a_prefix() -> None:
    define()
    specs = feature_asset_specs(prefix=["ml"])
    assert specs[0].key == dg.AssetKey(["ml", "video", "raw"])  # upstream first
    assert {s.key for s in specs} == {
        asset_key(k, prefix=["ml"]) for k in ("video/raw", "video/transcript", "video/faces")
    }
    assert all(d.asset_key.path[0] == "ml" for s in specs for d in s.deps)
    dg.Definitions(assets=specs).resolve_asset_graph()  # Dagster accepts the graph (every dep is a spec)
    only = feature_asset_specs(features=["video/faces"])
    assert [s.key for s in only] == [dg.AssetKey(["video", "faces"])]


def test_a_code_bump_changes_exactly_the_dependent_code_versions() -> None:
    define()
    before = {s.key: s.code_version for s in feature_asset_specs(mx.FeatureGraph.get_active())}
    define(audio="2")
    after = {s.key: s.code_version for s in feature_asset_specs()}
    changed = {k.to_user_string() for k in before if before[k] != after[k]}
    assert changed == {"video/raw", "video/transcript"}

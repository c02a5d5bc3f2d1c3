"""The store resource built from metaxy.toml, the IO manager, and observable root features."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.definitions.observe import observe

import metaxy as mx
from metaxy.config.loader import load_config
from metaxy.integrations.dagster import (
    EMPTY_DIGEST,
    asset_key,
    feature_asset_spec,
    metaxy_io_manager,
    metaxy_store_resource,
    observable_feature,
)
from metaxy.stores.registry import store_from_config
from tests.integrations.dagster.conftest import counts, materializations
from tests.integrations.dagster.pipeline import build_assets, define, raw_videos

CONFIG = """
project = "dagster-test"
store = "dev"

[stores.dev]
type = "duckdb"
db_path = "dev.duckdb"

[stores.other]
type = "delta"
table_uri = "other"

[catalog]
type = "sqlite"
db_path = "catalog.db"
"""


@pytest.mark.parametrize("name", ["dev", "other"])
def test_store_from_metaxy_toml_by_name_records_the_run_id(
    name: str, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    config = tmp_path / "metaxy.toml"
    config.write_text(CONFIG)
    features = define()
    resource = metaxy_store_resource(name, config=config)
    result = dg.materialize(build_assets(features), resources={"metaxy_store": resource}, instance=instance)
    assert counts(materializations(result)["video/faces"])["written"] == 6
    with store_from_config(load_config(config), name) as store:
        assert store.read_metadata(features["faces"]).collect().height == 6
        info = store.catalog.get_materialization_info(features["faces"], store=name)  # type: ignore[union-attr]
    assert set(info["materialization_id"]) == {result.run_id}


def test_io_manager_loads_upstream_lazily_and_appends_the_output(instance: dg.DagsterInstance) -> None:
    features = define()
    video_asset = build_assets(features)[0]
    transcript = features["transcript"]
    seen: list[type] = []

    spec = feature_asset_spec(transcript)

    @dg.asset(
        key=spec.key,
        ins={"videos": dg.AssetIn(key=asset_key(features["video"]), input_manager_key="metaxy_io")},
        metadata=spec.metadata,
        code_version=spec.code_version,
        io_manager_key="metaxy_io",
        required_resource_keys={"metaxy_store"},
    )
    def transcripts(context, videos: pl.LazyFrame) -> pl.DataFrame:  # type: ignore[no-untyped-def]  # Dagster reads the annotation as an object
        seen.append(type(videos))
        store = context.resources.metaxy_store
        todo = store.resolve_update(transcript).to_recompute()
        ids = videos.select("video_id").collect()["video_id"].to_list()
        return todo.filter(pl.col("video_id").is_in(ids)).with_columns(text=pl.lit("hi"))

    store = mx.InMemoryMetadataStore()
    resources = {"metaxy_store": metaxy_store_resource(store), "metaxy_io": metaxy_io_manager()}
    result = dg.materialize([video_asset, transcripts], resources=resources, instance=instance)
    assert seen == [pl.LazyFrame]
    mat = materializations(result)["video/transcript"]
    assert mat.metadata["metaxy/written"].value == 6
    with store:
        assert store.read_metadata(transcript).collect()["text"].to_list() == ["hi"] * 6
        assert set(store.read_metadata(transcript).collect()["metaxy_materialization_id"]) == {result.run_id}


def test_observing_a_root_feature_reports_the_digest_without_materializing(
    instance: dg.DagsterInstance,
) -> None:
    features = define()
    video = features["video"]
    source = observable_feature(video)
    store = mx.InMemoryMetadataStore()
    resources = {"metaxy_store": metaxy_store_resource(store)}

    def observed() -> str:
        result = observe([source], resources=resources, instance=instance)
        (event,) = result.get_asset_observation_events()
        return str(event.asset_observation_data.asset_observation.tags["dagster/data_version"])

    assert observed() == EMPTY_DIGEST  # nothing written yet
    with store:
        store.write_metadata(video, raw_videos())
        first = store.provenance_digest(video)
    assert observed() == first
    with store:
        store.write_metadata(video, raw_videos().reverse())  # the same samples again
    assert observed() == first
    with store:
        store.write_metadata(video, raw_videos(audio="b").head(1))
    assert observed() != first

    # downstream assets run against the observed source, and only new samples are computed
    transcript = build_assets(features)[1]
    result = dg.materialize([transcript], resources=resources, instance=instance)
    assert counts(materializations(result)["video/transcript"])["new"] == 6

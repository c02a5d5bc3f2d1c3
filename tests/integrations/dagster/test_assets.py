"""Feature assets in real in-process Dagster runs over real stores: increments, data versions that
follow the samples, staleness after a code bump, and failures that write nothing."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from dagster._utils.test.data_versions import get_stale_status_resolver

import metaxy as mx
from metaxy.exceptions import IntegrationError
from metaxy.integrations.dagster import FeatureContext, asset_key, metaxy_asset, metaxy_store_resource
from tests.integrations.dagster.conftest import counts, data_versions, materializations
from tests.integrations.dagster.pipeline import build_assets, define, raw_videos


def run(
    assets: list[dg.AssetsDefinition], store: mx.MetadataStore, instance: dg.DagsterInstance, **kw: object
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, resources={"metaxy_store": metaxy_store_resource(store)}, instance=instance, **kw
    )  # type: ignore[arg-type]


def stale_keys(assets: list[dg.AssetsDefinition], instance: dg.DagsterInstance) -> set[str]:
    resolver = get_stale_status_resolver(instance, assets)
    keys = [k for a in assets for k in a.keys]
    return {k.to_user_string() for k in keys if resolver.get_status(k).value == "STALE"}


def test_second_run_is_empty_and_keeps_data_versions_then_a_bump_reruns_only_dependents(
    store: mx.MetadataStore, instance: dg.DagsterInstance
) -> None:
    features = define(audio="1")
    assets = build_assets(features)

    first = run(assets, store, instance)
    mats = materializations(first)
    assert counts(mats["video/transcript"]) == {"written": 6, "new": 6, "stale": 0, "orphaned": 0}
    assert (
        "| video_id | path | category | text |" in mats["video/transcript"].metadata["metaxy/preview"].value
    )
    versions = data_versions(first)
    with store:
        assert versions["video/faces"] == store.provenance_digest(features["faces"])

    second = run(assets, store, instance)
    assert {k: counts(m)["written"] for k, m in materializations(second).items()} == dict.fromkeys(
        versions, 0
    )
    assert counts(materializations(second)["video/faces"])["new"] == 0
    assert data_versions(second) == versions  # nothing changed: Dagster sees the same data
    assert stale_keys(assets, instance) == set()

    bumped = build_assets(define(audio="2"))  # a new resampler: the audio field's code version
    assert stale_keys(bumped, instance) == {"video/raw", "video/transcript"}  # faces read frames only
    third = run(bumped, store, instance)
    mats = materializations(third)
    assert counts(mats["video/transcript"])["stale"] == 6
    assert counts(mats["video/faces"]) == {"written": 0, "new": 0, "stale": 0, "orphaned": 0}
    assert data_versions(third)["video/faces"] == versions["video/faces"]
    assert stale_keys(bumped, instance) == set()


def test_changed_samples_change_exactly_the_data_versions_downstream(instance: dg.DagsterInstance) -> None:
    store = mx.InMemoryMetadataStore()  # the digest's equality across stores is tested with the stores
    features = define()
    before = data_versions(run(build_assets(features), store, instance))
    changed = raw_videos().with_columns(
        pl.when(pl.col("video_id") == "v2")
        .then(pl.struct(audio=pl.lit("new-audio"), frames=pl.lit("f2")))
        .otherwise(pl.col("metaxy_provenance_by_field"))
        .alias("metaxy_provenance_by_field")
    )
    after_run = run(build_assets(features, videos=changed), store, instance)
    after = data_versions(after_run)
    assert counts(materializations(after_run)["video/transcript"])["stale"] == 1
    assert after["video/raw"] != before["video/raw"]
    assert after["video/transcript"] != before["video/transcript"]
    assert after["video/faces"] == before["video/faces"]


def test_a_failing_body_writes_nothing(store: mx.MetadataStore, instance: dg.DagsterInstance) -> None:
    features = define()
    video, _, _ = build_assets(features)

    @metaxy_asset(features["transcript"])
    def transcript(ctx: FeatureContext) -> pl.DataFrame:
        todo = ctx.resolve_update().new
        ctx.dagster.log.info(f"computing {todo.height} transcripts")
        raise RuntimeError("GPU out of memory")

    result = run([video, transcript], store, instance, raise_on_error=False)
    assert not result.success
    with store:
        assert store.has_feature(features["video"])
        assert not store.has_feature(features["transcript"])
    assert asset_key(features["transcript"]) not in {
        e.materialization.asset_key for e in result.get_asset_materialization_events()
    }


def test_materialization_ids_are_the_run_ids(instance: dg.DagsterInstance) -> None:
    store = mx.InMemoryMetadataStore(catalog=mx.InMemoryCatalog())
    result = run(build_assets(define())[:1], store, instance)
    with store:
        stored = store.read_metadata("video/raw").collect()
        info = store.catalog.get_materialization_info("video/raw")  # type: ignore[union-attr]
    assert set(stored["metaxy_materialization_id"]) == {result.run_id}
    assert set(info["materialization_id"]) == {result.run_id}


def test_a_partitioned_asset_needs_a_partition_column() -> None:
    with pytest.raises(IntegrationError, match="partition_by"):
        build_assets(define(), partitions_def=dg.StaticPartitionsDefinition(["news", "sports"]))


@pytest.mark.parametrize("partition_by", ["category", "function"])
def test_partitioned_assets_resolve_write_and_version_only_their_slice(
    partition_by: str, instance: dg.DagsterInstance
) -> None:
    features = define()
    store = mx.InMemoryMetadataStore()
    by = "category" if partition_by == "category" else (lambda key: pl.col("category") == key)
    video, transcript, _ = build_assets(
        features, partitions_def=dg.StaticPartitionsDefinition(["news", "sports"]), partition_by=by
    )
    run([video], store, instance)
    news = run([video, transcript], store, instance, selection=[transcript.key], partition_key="news")
    mat = materializations(news)["video/transcript"]
    assert counts(mat)["written"] == 3
    with store:
        stored = store.read_metadata(features["transcript"]).collect()
        assert set(stored["category"]) == {"news"}
        news_version = store.provenance_digest(features["transcript"], filters=pl.col("category") == "news")
    assert mat.tags["dagster/data_version"] == news_version
    sports = run([video, transcript], store, instance, selection=[transcript.key], partition_key="sports")
    assert counts(materializations(sports)["video/transcript"])["new"] == 3
    again = run([video, transcript], store, instance, selection=[transcript.key], partition_key="news")
    assert counts(materializations(again)["video/transcript"])["written"] == 0
    assert materializations(again)["video/transcript"].tags["dagster/data_version"] == news_version

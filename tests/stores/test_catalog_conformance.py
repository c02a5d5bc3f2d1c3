"""Every store × every catalog: writes register, failed writes do not, deletes keep the catalog honest."""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx
from metaxy.catalog import MaterializationCatalog, sync_catalog
from metaxy.exceptions import SchemaError
from metaxy.stores.base import ReadRequest
from tests.stores.conftest import StoreFactory
from tests.stores.graphs import video_graph, videos


def _probe(store: mx.MetadataStore, key: str, version: str | None) -> bool:
    """What the store itself holds, asked without the catalog (the truth the catalog must match)."""
    rows = store._read_rows(ReadRequest.history(mx.FeatureKey(key), version))
    return rows is not None and rows.head(1).collect().height > 0


def test_a_write_registers_fields_versions_and_counts(
    store_factory: StoreFactory, catalog: MaterializationCatalog
) -> None:
    g = video_graph()
    with store_factory(catalog=catalog) as store:
        store.write_metadata(g.video, videos([1, 2, 3]))
        info = catalog.get_materialization_info(g.video, store=store.name)
        assert sorted(info["field_key"]) == ["audio", "frames"]
        assert set(info["sample_count"]) == {3}
        assert set(info["feature_version"]) == {g.video.feature_version()}
        versions = g.video.field_versions()
        assert catalog.get_materialized_versions(g.video, "audio") == {versions["audio"]}
        assert catalog.has_feature(g.video, field="frames", data_version=versions["frames"])
        assert not catalog.has_feature(g.video, field="frames", data_version=versions["audio"])
        assert catalog.list_features(store=store.name) == [mx.FeatureKey("video/raw")]
        assert store.has_feature(g.video)


def test_a_failed_write_registers_nothing(
    store_factory: StoreFactory, catalog: MaterializationCatalog
) -> None:
    g = video_graph()
    with store_factory(catalog=catalog) as store:
        bad = videos([1, 1])  # duplicate ids: rejected before anything is stored
        with pytest.raises(SchemaError):
            store.write_metadata(g.video, bad)
        assert not catalog.has_feature(g.video)
        assert not store.has_feature(g.video)
        assert catalog.list_features() == []


def test_reads_and_resolution_go_through_the_catalog(
    store_factory: StoreFactory, catalog: MaterializationCatalog
) -> None:
    g = video_graph()
    with store_factory(catalog=catalog) as store:
        store.write_metadata(g.video, videos([1, 2]))
        store.write_metadata(g.transcript, store.resolve_update(g.transcript).new)
        assert store.read_metadata(g.transcript).collect().height == 2
        increment = store.resolve_update(g.transcript)
        assert (increment.new.height, increment.stale.height, increment.orphaned.height) == (0, 0, 0)
        for key in ("video/raw", "video/transcript"):
            version = mx.FeatureGraph.get_active().feature_version(key)
            assert catalog.has_feature(key, feature_version=version, store=store.name) == _probe(
                store, key, version
            )


def test_hard_deletes_keep_the_catalog_honest(
    store_factory: StoreFactory, catalog: MaterializationCatalog
) -> None:
    g = video_graph()
    version = g.video.feature_version()
    with store_factory(catalog=catalog) as store:
        store.write_metadata(g.video, videos([1, 2, 3]))
        store.delete_metadata(g.video, filters=pl.col("sample_uid") == 1, soft=False)
        assert catalog.has_feature(g.video, feature_version=version, store=store.name)  # rows remain
        store.delete_metadata(g.video, soft=True)  # tombstones: rows still stored, history readable
        assert catalog.has_feature(g.video, store=store.name) == _probe(store, "video/raw", version)
        store.delete_metadata(g.video, soft=False)
        assert not _probe(store, "video/raw", version)
        assert not catalog.has_feature(g.video, store=store.name)
        assert not store.has_feature(g.video)


def test_one_catalog_serves_several_stores(
    store_factory: StoreFactory, catalog: MaterializationCatalog
) -> None:
    g = video_graph()
    other = mx.InMemoryMetadataStore(name="other", catalog=catalog)
    with store_factory(catalog=catalog) as a, other as b:
        a.write_metadata(g.video, videos([1]))
        assert a.has_feature(g.video)
        assert not b.has_feature(g.video)  # b's questions are about b's rows only
        assert catalog.has_feature(g.video)  # but the catalog knows it exists somewhere
        b.write_metadata(g.video, videos([1, 2]))
        info = catalog.get_materialization_info(g.video)
        assert sorted(set(info["store"])) == sorted({a.name, "other"})


def test_sync_rebuilds_the_catalog_of_an_existing_store(
    store_factory: StoreFactory, catalog: MaterializationCatalog
) -> None:
    g = video_graph()
    with store_factory() as store:  # written before any catalog was attached
        store.write_metadata(g.video, videos([1, 2]))
        store.write_metadata(g.video, videos([3]))
        store.delete_metadata(g.video, filters=pl.col("sample_uid") == 1)  # a tombstone is not a write
        assert sync_catalog(store, catalog) == 2
        info = catalog.get_materialization_info(g.video, store=store.name)
        assert sorted(info.filter(pl.col("field_key") == "audio")["sample_count"]) == [1, 2]
        assert sync_catalog(store, catalog) == 2  # idempotent: the store's records are replaced
        assert catalog.get_materialization_info(g.video).height == 4
        store.catalog = catalog
        assert store.has_feature(g.video)

"""The catalog contract, per catalog: registration, queries, forgetting, persistence, concurrency."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

import polars as pl
import pytest

import metaxy as mx
from metaxy.catalog import MaterializationCatalog
from metaxy.exceptions import CatalogError
from tests.catalog._writers import write_many
from tests.stores.graphs import video_graph, videos

INFO_COLUMNS = [
    "field_key",
    "data_version",
    "sample_count",
    "materialized_at",
    "feature_version",
    "store",
    "materialization_id",
]


def _written(frame: pl.DataFrame, version: str) -> pl.DataFrame:
    """A frame as a store writes it: with the system columns the catalog reads."""
    return frame.with_columns(
        pl.col("metaxy_provenance_by_field").alias("metaxy_data_version_by_field"),
        pl.lit(version).alias("metaxy_feature_version"),
        pl.lit("m1").alias("metaxy_materialization_id"),
    )


def test_registration_answers_every_query(catalog: MaterializationCatalog) -> None:
    g = video_graph()
    version, fields = g.video.feature_version(), g.video.field_versions()
    catalog.register_materialization(g.video, _written(videos([1, 2]), version), store="s")
    assert catalog.list_features() == [mx.FeatureKey("video/raw")]
    assert catalog.list_features(store="elsewhere") == []
    assert catalog.has_feature("video/raw")
    assert catalog.has_feature(g.video, field="audio", data_version=fields["audio"], feature_version=version)
    assert not catalog.has_feature(g.video, feature_version="00000000")
    assert not catalog.has_feature(g.transcript)
    assert catalog.get_materialized_versions(g.video) == set(fields.values())
    assert catalog.get_materialized_versions(g.video, "frames") == {fields["frames"]}
    info = catalog.get_materialization_info(g.video)
    assert info.columns == INFO_COLUMNS
    assert info.select("field_key", "sample_count", "store", "materialization_id").rows() == [
        ("audio", 2, "s", "m1"),
        ("frames", 2, "s", "m1"),
    ]
    assert info["materialized_at"].dtype == pl.Datetime("us", "UTC")


def test_a_version_of_an_unknown_definition_has_fields_but_no_data_version(
    catalog: MaterializationCatalog,
) -> None:
    g = video_graph()
    catalog.register_materialization(g.video, _written(videos([1]), "0ld0ld00"))
    assert catalog.has_feature(g.video, field="audio", feature_version="0ld0ld00")
    assert catalog.get_materialized_versions(g.video) == set()


def test_empty_frames_register_nothing_and_bare_frames_are_rejected(catalog: MaterializationCatalog) -> None:
    g = video_graph()
    catalog.register_materialization(g.video, _written(videos([]), g.video.feature_version()))
    assert not catalog.has_feature(g.video)
    with pytest.raises(CatalogError, match="metaxy_feature_version"):
        catalog.register_materialization(g.video, videos([1]))


def test_forget_drops_only_the_named_versions(catalog: MaterializationCatalog) -> None:
    g = video_graph()
    catalog.register_materialization(g.video, _written(videos([1]), "aaaaaaaa"), store="s")
    catalog.register_materialization(g.video, _written(videos([1]), "bbbbbbbb"), store="s")
    catalog.forget_materialization(g.video, feature_versions=["aaaaaaaa"], store="s")
    assert not catalog.has_feature(g.video, feature_version="aaaaaaaa")
    assert catalog.has_feature(g.video, feature_version="bbbbbbbb")
    catalog.forget_materialization(g.video, feature_versions=[], store="s")  # nothing gone: no-op
    assert catalog.has_feature(g.video)
    catalog.forget_materialization(g.video)
    assert catalog.list_features() == []


def test_sqlite_catalog_persists_and_survives_pickling(tmp_path: Path) -> None:
    g = video_graph()
    path = tmp_path / "catalog.db"
    with mx.SQLiteCatalog(path) as first:
        first.register_materialization(g.video, _written(videos([1]), g.video.feature_version()))
        copy = pickle.loads(pickle.dumps(first))
    with mx.SQLiteCatalog(path) as second, copy:
        assert second.has_feature(g.video)
        assert copy.has_feature(g.video)


def test_invalid_table_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="table name"):
        mx.SQLiteCatalog(tmp_path / "c.db", table='x"; DROP TABLE y; --')


def test_postgres_catalog_reports_an_unreachable_server() -> None:
    catalog = mx.PostgresCatalog("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(CatalogError, match="PostgreSQL catalog") as info:
        catalog.has_feature("video/raw")
    assert info.value.hint


def test_concurrent_writers_in_separate_processes_lose_nothing(catalog: MaterializationCatalog) -> None:
    if isinstance(catalog, mx.InMemoryCatalog):
        pytest.skip("InMemoryCatalog lives in one process by design")
    writes, procs = 25, 3
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=write_many, args=(catalog, f"p{i}", writes, start)) for i in range(procs)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    info = catalog.get_materialization_info("video/raw")
    assert info.height == procs * writes * 2  # two fields per write
    assert info.group_by("store").len().sort("store")["len"].to_list() == [writes * 2] * procs

"""What is specific to the Iceberg store: catalog and warehouse (local and S3), partition transforms and
pruning, schema evolution, concurrent writers in two processes, its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pyiceberg.catalog import load_catalog

import metaxy as mx
from metaxy.exceptions import ConfigError, SchemaError, SchemaMigrationError
from metaxy.stores.iceberg.schema import null_struct_list
from tests.servers import S3Server
from tests.stores.graphs import video_graph, videos

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Constructor options of a fresh store on local disk or on the local S3 server (SQLite catalog)."""
    if request.param == "local":
        return {"warehouse": str(tmp_path / "warehouse")}
    server: S3Server = request.getfixturevalue("s3_server")
    return {
        "warehouse": f"s3://{server.bucket}/iceberg-{tmp_path.name}",
        "catalog_uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "storage_options": server.storage_options(),
    }


def captures(ids: list[int], *, dataset: str, day: int, audio: str = "a") -> pl.DataFrame:
    return videos(ids, audio=audio).with_columns(
        dataset=pl.lit(dataset), captured_at=pl.lit(datetime(2024, 3, day, 12))
    )


def test_tables_live_in_the_catalog_and_the_warehouse(location: dict[str, Any]) -> None:
    g = video_graph()
    with mx.IcebergMetadataStore(**location) as store:
        store.write_metadata(g.video, videos([1, 2]))
        assert store.list_features() == [mx.FeatureKey("video/raw")]
        table = store._table(mx.FeatureKey("video/raw"))
        assert table is not None
        assert table.location().removeprefix("file://").startswith(location["warehouse"])
        assert store.read_metadata(g.video).collect()["sample_uid"].sort().to_list() == [1, 2]
    if "catalog_uri" not in location:
        assert (Path(location["warehouse"]) / "catalog.db").is_file()  # the default SQLite catalog


def test_partition_transforms_become_the_table_spec_and_prune_reads(location: dict[str, Any]) -> None:
    g = video_graph()
    store = mx.IcebergMetadataStore(
        **location, partition_by=["dataset", "day(captured_at)", "bucket(4, sample_uid)"]
    )
    with store:
        for dataset in ("a", "b"):
            for day in (1, 2):
                store.write_metadata(
                    g.video, captures([day * 10 + (dataset == "b")], dataset=dataset, day=day)
                )
        assert store.partition_columns(g.video) == ["dataset", "captured_at_day", "sample_uid_bucket_4"]
        assert store.partition_files(g.video) == (4, 4)
        assert store.partition_files(g.video, filters=pl.col("dataset") == "b") == (2, 4)
        one = (pl.col("dataset") == "a") & (pl.col("captured_at") >= datetime(2024, 3, 2))
        assert store.partition_files(g.video, filters=one) == (1, 4)
        assert store.read_metadata(g.video, filters=one).collect()["sample_uid"].to_list() == [20]


def test_a_pruned_read_opens_only_the_planned_files(tmp_path: Path) -> None:
    g = video_graph()
    store = mx.IcebergMetadataStore(tmp_path / "wh", partition_by=["dataset"])
    with store:
        store.write_metadata(g.video, captures([1, 2], dataset="a", day=1))
        store.write_metadata(g.video, captures([3, 4], dataset="b", day=1))
        table = store._table(mx.FeatureKey("video/raw"))
        assert table is not None
        for task in table.scan().plan_files():
            if "dataset=a" in task.file.file_path:
                os.remove(task.file.file_path.removeprefix("file://"))
        rows = store.read_metadata(g.video, filters=pl.col("dataset") == "b").collect()
        assert sorted(rows["sample_uid"]) == [3, 4]
        with pytest.raises(Exception, match=r"(?i)no such file|not found|os error"):
            store.read_metadata(g.video).collect()


def test_a_write_moving_a_sample_across_partitions_is_refused(tmp_path: Path) -> None:
    g = video_graph()
    with mx.IcebergMetadataStore(tmp_path, partition_by=["dataset"]) as store:
        store.write_metadata(g.video, captures([1], dataset="a", day=1))
        with pytest.raises(SchemaError, match="from partition dataset='a' to dataset='b'"):
            store.write_metadata(g.video, captures([1], dataset="b", day=1))


def test_schema_evolution_adds_columns_and_widens_types(tmp_path: Path) -> None:
    g = video_graph()
    with mx.IcebergMetadataStore(tmp_path) as store:
        store.write_metadata(g.video, videos([1]).with_columns(fps=pl.lit(24, pl.Int32)))
        store.write_metadata(
            g.video, videos([2]).with_columns(fps=pl.lit(2**40, pl.Int64), codec=pl.lit("h264"))
        )
        rows = store.read_metadata(g.video).collect().sort("sample_uid")
        assert rows.schema["fps"] == pl.Int64
        assert rows["fps"].to_list() == [24, 2**40]
        assert rows["codec"].to_list() == [None, "h264"]
        with pytest.raises(SchemaError, match="fps"):
            store.write_metadata(g.video, videos([3]).with_columns(fps=pl.lit("fast")))


def test_a_schema_migration_keeps_the_partition_spec_and_refuses_to_change_its_columns(
    tmp_path: Path,
) -> None:
    g = video_graph()
    with mx.IcebergMetadataStore(tmp_path, partition_by=["dataset"]) as store:
        store.write_metadata(g.video, captures([1, 2], dataset="a", day=1).with_columns(fps=pl.lit("24")))
        store.write_metadata(g.video, captures([3], dataset="b", day=1).with_columns(fps=pl.lit("30")))
        store.migrate_schema(g.video, mx.SchemaMigration(cast={"fps": pl.Int64}, rename={"path": "uri"}))
        rows = store.read_metadata(g.video).collect().sort("sample_uid")
        assert (rows.schema["fps"], rows["fps"].to_list(), "path" in rows.columns) == (
            pl.Int64,
            [24, 24, 30],
            False,
        )
        assert store.partition_files(g.video, filters=pl.col("dataset") == "b") == (1, 2)
        with pytest.raises(SchemaMigrationError, match=r"partitioned on \['dataset'\]"):
            store.migrate_schema(g.video, mx.SchemaMigration(rename={"dataset": "source"}))
        assert store.read_metadata(g.video).collect()["dataset"].sort().to_list() == ["a", "a", "b"]


def test_concurrent_appends_from_two_processes_all_land(location: dict[str, Any], tmp_path: Path) -> None:
    catalog_uri = location.get("catalog_uri", f"sqlite:///{tmp_path / 'shared.db'}")
    options = location.get("storage_options")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [location["warehouse"], catalog_uri]
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.stores.iceberg.writer",
                *args,
                str(start),
                "4",
                json.dumps(options),
            ],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )
        for start in (0, 100)
    ]
    try:
        for proc in writers:
            _, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, err.decode()
    finally:
        for proc in writers:
            proc.kill()
            proc.communicate()
    g = video_graph()
    with mx.IcebergMetadataStore(
        location["warehouse"], catalog_uri=catalog_uri, storage_options=options
    ) as store:
        ids = sorted(store.read_metadata(g.video).collect()["sample_uid"].to_list())
        table = store._table(mx.FeatureKey("video/raw"))
    assert ids == [*range(4), *range(100, 104)]
    assert table is not None
    assert len(table.snapshots()) == 8  # one snapshot per append, none lost


def test_any_pyiceberg_catalog_by_its_properties(tmp_path: Path) -> None:
    g = video_graph()
    properties = {"type": "sql", "uri": f"sqlite:///{tmp_path / 'other.db'}"}
    with mx.IcebergMetadataStore(
        tmp_path / "wh", catalog_properties=properties, namespace="features"
    ) as store:
        store.write_metadata(g.video, videos([1]))
    catalog = load_catalog("metaxy", **properties, warehouse=(tmp_path / "wh").as_uri())
    assert catalog.list_tables("features") == [("features", "video__raw")]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"partition_by": ["week(captured_at)"]}, "is not a column or one of"),
        ({"partition_by": ["bucket(sample_uid)"]}, "is not a column or one of"),
        ({"warehouse": "s3://bucket/x"}, "needs a catalog"),
        ({"partitioning": {"video/raw": ["dataset"]}}, "is not a table with partition_by"),
    ],
)
def test_bad_options_are_config_errors(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        mx.IcebergMetadataStore(**{"warehouse": tmp_path, **options})
    assert info.value.hint


def test_a_null_list_of_structs_is_refused_before_pyiceberg_turns_it_into_an_empty_list(
    tmp_path: Path,
) -> None:
    boxes = pl.List(pl.Struct({"x": pl.Int64}))
    assert null_struct_list(pl.Series("v", [[{"x": 1}], []], dtype=boxes)) is None
    nested = pl.Series("v", [{"boxes": [{"x": 1}]}, None, {"boxes": None}], dtype=pl.Struct({"boxes": boxes}))
    assert null_struct_list(nested) == "v.boxes"
    g = video_graph()
    with mx.IcebergMetadataStore(tmp_path) as store:
        store.write_metadata(g.video, videos([1, 2]).with_columns(v=pl.Series([[{"x": 1}], []], dtype=boxes)))
        with pytest.raises(SchemaError, match="column 'v' holds a null list of structs"):
            store.write_metadata(g.video, videos([3]).with_columns(v=pl.Series([None], dtype=boxes)))
        rows = store.read_metadata(g.video).collect().sort("sample_uid")
        assert rows["v"].to_list() == [[{"x": 1}], []]

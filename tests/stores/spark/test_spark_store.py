"""What only the Spark store does: its layout, Spark DataFrames in and out, the Delta option, bad input.

The conformance suite runs every store test on Spark too (``tests/stores/conftest.py``); these tests
share the process's one local session (started by the first test that needs it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import metaxy as mx
from metaxy.exceptions import MissingSamplesError, SchemaError, StoreBackendError
from tests.stores.spark.session import skip_without_java

pytestmark = pytest.mark.filterwarnings("ignore::metaxy.exceptions.PolarsFallbackWarning")


def _graph() -> tuple[type[mx.Feature], type[mx.Feature]]:
    class Video(
        mx.Feature,
        spec=mx.FeatureSpec(key="spark/video", id_columns=["sample_uid"], fields=[mx.FieldSpec(key="audio")]),
    ):
        pass

    class Clip(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="spark/clip",
            id_columns=["sample_uid"],
            deps=[mx.FeatureDep(feature=Video)],
            fields=[mx.FieldSpec(key="embedding", deps=[mx.FieldDep(feature=Video, fields=["audio"])])],
        ),
    ):
        pass

    return Video, Clip


def _roots(n: int, version: str = "a") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sample_uid": list(range(n)),
            "metaxy_provenance_by_field": [{"audio": f"{version}{i}"} for i in range(n)],
        }
    )


@pytest.fixture
def spark_store(tmp_path: Path) -> mx.SparkMetadataStore:
    skip_without_java()
    return mx.SparkMetadataStore(tmp_path / "warehouse", hash_algorithm="md5")


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(sorted(frame.columns)).sort("sample_uid")


def test_layout_is_a_parquet_folder_per_feature_with_its_schema(
    graph: mx.FeatureGraph, spark_store: mx.SparkMetadataStore, tmp_path: Path
) -> None:
    video, _ = _graph()
    with spark_store as store:
        store.write_metadata(video, _roots(3))
        assert store.list_features() == [mx.FeatureKey("spark/video")]
    folder = tmp_path / "warehouse" / "spark" / "video.parquet"
    assert (folder / "_metaxy_schema.json").is_file()
    assert any(p.suffix == ".parquet" for p in folder.iterdir())
    # the folder is plain Parquet: any reader sees the rows
    assert pl.read_parquet(folder / "*.parquet")["sample_uid"].sort().to_list() == [0, 1, 2]


def test_resolve_update_spark_equals_resolve_update_and_stays_in_spark(
    graph: mx.FeatureGraph, spark_store: mx.SparkMetadataStore
) -> None:
    video, clip = _graph()
    with spark_store as store:
        store.write_metadata(video, _roots(6))
        store.write_metadata(clip, store.resolve_update(clip).new.filter(pl.col("sample_uid") < 4))
        store.write_metadata(video, _roots(6, "b").filter(pl.col("sample_uid") == 1))
        want = store.resolve_update(clip, filters=pl.col("sample_uid") > 0)
        got = store.resolve_update_spark(clip, filters=pl.col("sample_uid") > 0)
        assert type(got.new).__module__.startswith("pyspark")
        for part, frame in zip(("new", "stale", "orphaned"), got, strict=True):
            arrow = pl.from_arrow(frame.toArrow())
            assert isinstance(arrow, pl.DataFrame)
            expected = getattr(want, part)
            assert arrow.columns == expected.columns, part
            assert_frame_equal(_sorted(arrow), _sorted(expected), check_dtypes=False)
        assert sorted(pl.from_arrow(got.stale.toArrow())["sample_uid"].to_list()) == [1]  # type: ignore[index]
        # a shard keeps the same samples as resolve_update's shard
        for index in range(2):
            sharded = pl.from_arrow(store.resolve_update_spark(clip, shard=(index, 2)).new.toArrow())
            assert isinstance(sharded, pl.DataFrame)
            polars_shard = store.resolve_update(clip, shard=(index, 2)).new
            assert sorted(sharded["sample_uid"].to_list()) == sorted(polars_shard["sample_uid"].to_list())


def test_write_spark_versions_and_appends_in_spark(
    graph: mx.FeatureGraph, spark_store: mx.SparkMetadataStore
) -> None:
    video, clip = _graph()
    with spark_store as store:
        store.write_metadata(video, _roots(4))
        samples = store.spark.createDataFrame(
            [(i, f"s3://clips/{i}") for i in range(4)], "sample_uid long, path string"
        )
        written = store.write_spark(clip, samples)
        assert type(written).__module__.startswith("pyspark")
        stored = store.read_metadata(clip).collect()
        assert sorted(stored["path"].to_list()) == [f"s3://clips/{i}" for i in range(4)]
        # the provenance Spark attached is the one the Polars engine expects: nothing left to do
        increment = store.resolve_update(clip)
        assert (increment.new.height, increment.stale.height, increment.orphaned.height) == (0, 0, 0)
        expected = store.resolve_update(clip, samples=None, filters=None)
        assert expected.new.height == 0


def test_write_spark_refuses_samples_with_no_upstream_row(
    graph: mx.FeatureGraph, spark_store: mx.SparkMetadataStore
) -> None:
    video, clip = _graph()
    with spark_store as store:
        store.write_metadata(video, _roots(2))
        samples = store.spark.createDataFrame([(0,), (5,)], "sample_uid long")
        with pytest.raises(SchemaError, match="1 sample\\(s\\) have no upstream rows"):
            store.write_spark(clip, samples)
        repeated = store.spark.createDataFrame([(0,), (0,)], "sample_uid long")
        with pytest.raises(SchemaError, match="repeat an id"):
            store.write_spark(clip, repeated)
        assert not store.has_feature(clip)


def test_resolve_update_spark_of_a_root_feature_is_refused(
    graph: mx.FeatureGraph, spark_store: mx.SparkMetadataStore
) -> None:
    video, _ = _graph()
    with spark_store as store, pytest.raises(MissingSamplesError, match="root feature"):
        store.resolve_update_spark(video)


def test_a_warehouse_under_a_file_is_refused(tmp_path: Path) -> None:
    skip_without_java()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = mx.SparkMetadataStore(blocker / "warehouse")
    with pytest.raises(StoreBackendError, match="which is a file") as caught:
        store.__enter__()
    assert "Hint:" in str(caught.value)


def test_delta_needs_the_connector_settings_in_the_session(tmp_path: Path) -> None:
    skip_without_java()
    store = mx.SparkMetadataStore(tmp_path / "w", table_format="delta")
    with pytest.raises(
        StoreBackendError, match=re.escape("spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension")
    ):
        store.__enter__()


def test_an_unknown_table_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreBackendError, match="table_format='orc'"):
        mx.SparkMetadataStore(tmp_path, table_format="orc")  # type: ignore[arg-type]


def test_without_java_opening_says_so(tmp_path: Path) -> None:
    """A fresh process with no Java on PATH and no JAVA_HOME: the store refuses before starting a JVM."""
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # nothing in it
    code = (
        "import metaxy as mx\nfrom metaxy.exceptions import StoreBackendError\n"
        "try:\n"
        f"    mx.SparkMetadataStore({str(tmp_path / 'w')!r}).__enter__()\n"
        "except StoreBackendError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "no Java runtime: `java` is not on PATH and JAVA_HOME is not set" in out.stdout, out.stderr
    assert "openjdk-17-jre-headless" in out.stdout


def test_delta_tables_are_shared_with_the_delta_store(graph: mx.FeatureGraph, tmp_path: Path) -> None:
    """With the Delta connector on the classpath: Spark writes, DeltaMetadataStore reads, and back."""
    skip_without_java()
    from metaxy.stores.spark.session import local_session

    session = local_session("test", "local[2]")
    loader = session._jvm.java.lang.Thread.currentThread().getContextClassLoader()
    try:
        loader.loadClass("io.delta.sql.DeltaSparkSessionExtension")
    except Exception:
        pytest.skip(
            "the Delta Lake Spark connector's JARs are not on the session's classpath: they are published "
            "on Maven only (delta-spark on PyPI ships no JARs), which this machine cannot reach"
        )
    video, _ = _graph()
    with mx.SparkMetadataStore(tmp_path, spark=session, table_format="delta", hash_algorithm="md5") as store:
        store.write_metadata(video, _roots(3))
    with mx.DeltaMetadataStore(tmp_path, hash_algorithm="md5") as delta:
        assert sorted(delta.read_metadata(video).collect()["sample_uid"].to_list()) == [0, 1, 2]
        delta.write_metadata(video, _roots(4, "b"))
    with mx.SparkMetadataStore(tmp_path, spark=session, table_format="delta", hash_algorithm="md5") as store:
        assert store.read_metadata(video).collect().height == 4

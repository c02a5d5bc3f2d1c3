"""Stores written by the public ``metaxy==0.1.11`` package are read and resolved by this library.

The fixtures come from ``generate_fixtures.py`` (run in a separate virtualenv; see its docstring).
"""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.config import load_config
from metaxy.exceptions import MetaxyDeprecationWarning
from metaxy.stores.registry import store_from_config
from tests.compat.relocate_iceberg import relocate_warehouse
from tests.stores.spark.session import skip_without_java

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "expected.json").read_text())


def compat_graph() -> tuple[type[mx.Feature], type[mx.Feature]]:
    """The graph ``generate_fixtures.py`` builds with 0.1.11, written with this library's API."""

    class Root(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="compat/root",
            fields=[
                mx.FieldSpec(key="audio", code_version="1"),
                mx.FieldSpec(key="frames", code_version="1"),
            ],
        ),
    ):
        path: str

    class Leaf(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="compat/leaf",
            deps=[mx.FeatureDep(feature=Root)],
            fields=[
                mx.FieldSpec(
                    key="embedding", code_version="2", deps=[mx.FieldDep(feature=Root, fields=["audio"])]
                ),
                mx.FieldSpec(key="summary", code_version="1"),
            ],
        ),
    ):
        pass

    return Root, Leaf


def _delta_store(tmp_path: Path, stage: str, **kwargs: Any) -> mx.MetadataStore:
    # a copy, so writes made by a test never touch the committed fixture
    shutil.copytree(FIXTURES / f"delta_{stage}", tmp_path / stage)
    return mx.DeltaMetadataStore(tmp_path / stage, hash_algorithm=EXPECTED["delta"]["hash_algorithm"])


def _duckdb_store(tmp_path: Path, stage: str, **kwargs: Any) -> mx.MetadataStore:
    path = tmp_path / f"{stage}.duckdb"
    with gzip.open(FIXTURES / f"duckdb_{stage}.duckdb.gz", "rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return mx.DuckDBMetadataStore(path, hash_algorithm=EXPECTED["duckdb"]["hash_algorithm"], **kwargs)


def _duckdb_polars(tmp_path: Path, stage: str) -> mx.MetadataStore:
    return _duckdb_store(tmp_path, stage, versioning_engine="polars")


def _iceberg_warehouse(tmp_path: Path, stage: str) -> Path:
    """0.1.11's warehouse unpacked and moved (its metadata holds absolute paths: relocate_iceberg.py)."""
    warehouse = tmp_path / f"iceberg_{stage}"
    with tarfile.open(FIXTURES / f"iceberg_{stage}.tar.gz") as tar:
        tar.extractall(warehouse, filter="data")
    relocate_warehouse(warehouse, EXPECTED["iceberg"]["warehouse"])
    return warehouse


def _iceberg_store(tmp_path: Path, stage: str) -> mx.MetadataStore:
    """Opened with our defaults: the SQL catalog ``metaxy`` on ``<warehouse>/catalog.db``, namespace ``metaxy``."""
    warehouse = _iceberg_warehouse(tmp_path, stage)
    return mx.IcebergMetadataStore(warehouse, hash_algorithm=EXPECTED["iceberg"]["hash_algorithm"])


def _spark_store(tmp_path: Path, stage: str) -> mx.MetadataStore:
    """The 0.1.11 Delta tables' rows copied as they are (system columns included) into Spark tables."""
    skip_without_java()
    algorithm = EXPECTED["delta"]["hash_algorithm"]
    store = mx.SparkMetadataStore(tmp_path / f"spark_{stage}", hash_algorithm=algorithm)
    with _delta_store(tmp_path, stage) as source, store:
        store.copy_metadata(source, history=True)
    return store


StoreOpener = Callable[[Path, str], mx.MetadataStore]
OPENERS: dict[str, StoreOpener] = {
    "delta": _delta_store,
    "spark": _spark_store,
    "duckdb": _duckdb_store,
    "duckdb-polars": _duckdb_polars,
    "iceberg": _iceberg_store,
}
#: the 0.1.11 stores the fixtures were written with
KINDS = ("delta", "duckdb", "iceberg")


@pytest.fixture(params=sorted(OPENERS))
def open_store(request: pytest.FixtureRequest) -> StoreOpener:
    """Opens a copy of one 0.1.11 fixture store (``stage`` v1 or v2) with one of our stores."""
    return OPENERS[request.param]


def _ids(frame: pl.DataFrame) -> list[int]:
    return sorted(frame["sample_uid"].to_list())


def test_feature_and_field_versions_equal_metaxy_0_1(graph: mx.FeatureGraph) -> None:
    root, leaf = compat_graph()
    expected = EXPECTED["delta"]
    for kind in KINDS:
        assert EXPECTED[kind]["feature_versions"] == expected["feature_versions"]
        assert EXPECTED[kind]["field_versions"] == expected["field_versions"]
    for feature in (root, leaf):
        key = feature.spec().key
        assert graph.feature_version(key) == expected["feature_versions"][key.to_string()]
        fields = {k.to_string(): v for k, v in graph.plan(key).field_versions.items()}
        assert fields == expected["field_versions"][key.to_string()]


def test_stored_rows_read_as_this_library_reads_its_own(tmp_path: Path, open_store: StoreOpener) -> None:
    root, leaf = compat_graph()
    with open_store(tmp_path, "v2") as store:
        assert store.list_features() == [mx.FeatureKey("compat/leaf"), mx.FeatureKey("compat/root")]
        latest = store.read_metadata(root).collect().sort("sample_uid")
        assert latest["sample_uid"].to_list() == EXPECTED["ids"]
        changed = latest.filter(pl.col("sample_uid").is_in(EXPECTED["changed"]))
        assert all(p["audio"].endswith("-v2") for p in changed["metaxy_provenance_by_field"])
        assert store.read_metadata(root, history=True).collect().height == 2 * len(EXPECTED["ids"])
        assert _ids(store.read_metadata(leaf).collect()) == EXPECTED["ids"]


def test_nothing_to_do_when_nothing_changed(tmp_path: Path, open_store: StoreOpener) -> None:
    _, leaf = compat_graph()
    with open_store(tmp_path, "v1") as store:
        inc = store.resolve_update(leaf)
    assert (inc.new.height, inc.stale.height, inc.orphaned.height) == (0, 0, 0)
    for kind in KINDS:
        assert EXPECTED[kind]["resolve_v1"] == {"new": [], "stale": [], "orphaned": []}


def test_exactly_the_changed_samples_are_stale_after_an_upstream_change(
    tmp_path: Path, open_store: StoreOpener
) -> None:
    _, leaf = compat_graph()
    with open_store(tmp_path, "v2") as store:
        inc = store.resolve_update(leaf)
        assert _ids(inc.stale) == EXPECTED["changed"]
        for kind in KINDS:
            assert EXPECTED[kind]["resolve_v2"] == {"new": [], "stale": EXPECTED["changed"], "orphaned": []}
        assert (inc.new.height, inc.orphaned.height) == (0, 0)
        # our rows appended to a 0.1.11 table settle the increment
        store.write_metadata(leaf, inc.stale)
        again = store.resolve_update(leaf)
    assert (again.new.height, again.stale.height, again.orphaned.height) == (0, 0, 0)


@pytest.mark.parametrize("stage", ["v1", "v2"])
def test_our_sample_versions_equal_the_stored_ones(
    tmp_path: Path, open_store: StoreOpener, stage: str
) -> None:
    """Recomputing the leaf's provenance from the stored root reproduces 0.1.11's stored hashes."""
    _, leaf = compat_graph()
    with open_store(tmp_path, stage) as store:
        stored = store.read_metadata(leaf).collect()
        store.delete_metadata(leaf, soft=False)
        recomputed = store.resolve_update(leaf).new
    joined = stored.join(recomputed, on="sample_uid", suffix="_ours")
    assert joined.height == len(EXPECTED["ids"])
    changed = EXPECTED["changed"] if stage == "v2" else []
    is_same = pl.col("metaxy_provenance") == pl.col("metaxy_provenance_ours")
    assert _ids(joined.filter(~is_same)) == changed  # only upstream changes move a hash
    same = joined.filter(is_same)
    assert same["metaxy_provenance_by_field"].to_list() == same["metaxy_provenance_by_field_ours"].to_list()


def test_a_metaxy_0_1_iceberg_table_is_claimed_by_the_first_key_that_writes_it(tmp_path: Path) -> None:
    """0.1.11 records no feature key on its tables; our first append records it, in the same commit, so
    that a key colliding with the table name is refused from then on (as our SQL stores' claims do)."""
    from pyiceberg.catalog import load_catalog

    root, _ = compat_graph()
    warehouse = tmp_path / "iceberg_v1"

    def properties() -> dict[str, str]:
        catalog = load_catalog("metaxy", type="sql", uri=f"sqlite:///{warehouse}/catalog.db")
        try:
            return dict(catalog.load_table(("metaxy", "compat__root")).properties)
        finally:
            catalog.engine.dispose()

    with _iceberg_store(tmp_path, "v1") as store:
        assert "metaxy.feature-key" not in properties()
        row = {
            "sample_uid": [9],
            "path": ["clip9.mp4"],
            "metaxy_provenance_by_field": [{"audio": "a9", "frames": "f9"}],
        }
        store.write_metadata(root, pl.DataFrame(row))
        assert properties()["metaxy.feature-key"] == "compat/root"
        assert _ids(store.read_metadata(root).collect()) == [*EXPECTED["ids"], 9]


@pytest.mark.parametrize(
    "store_class",
    [
        "metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore",
        "metaxy.ext.metadata_stores.iceberg.IcebergMetadataStore",
    ],
)
def test_a_metaxy_0_1_config_of_its_iceberg_store_adopts_the_warehouse(
    tmp_path: Path, store_class: str
) -> None:
    """0.1.11's metaxy.toml, unchanged, opens its warehouse: nothing to recompute, no hash setting needed."""
    _, leaf = compat_graph()
    _iceberg_warehouse(tmp_path, "v1")
    (tmp_path / "metaxy.toml").write_text(
        f'project = "compat"\nstore = "dev"\nauto_create_tables = true\n\n[stores.dev]\ntype = "{store_class}"\n'
        '[stores.dev.config]\nwarehouse = "iceberg_v1"\nnamespace = "metaxy"\ncatalog_name = "metaxy"\n'
    )
    with pytest.warns(MetaxyDeprecationWarning, match="0.1.x configuration layout"):
        config = load_config(tmp_path / "metaxy.toml")
    with store_from_config(config) as store:
        assert isinstance(store, mx.IcebergMetadataStore)
        inc = store.resolve_update(leaf)
    assert (inc.new.height, inc.stale.height, inc.orphaned.height) == (0, 0, 0)

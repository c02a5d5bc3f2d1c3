"""Code written for Metaxy 0.1.11 runs, or fails with an error naming the replacement (docs/migrating.md)."""

from __future__ import annotations

import importlib
from pathlib import Path

import polars as pl
import pytest

import metaxy as mx
from metaxy.config import load_config
from metaxy.exceptions import LegacyAPIError, LegacyImportError, MetaxyDeprecationWarning


def define() -> tuple[type[mx.Feature], type[mx.Feature]]:
    """The two features, defined in the test's own graph (the pytest plugin gives each test one)."""

    class Root(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="compat_api/root",
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
            key="compat_api/leaf", deps=[mx.FeatureDep(feature=Root)], fields=[mx.FieldSpec(key="emb")]
        ),
    ):
        pass

    return Root, Leaf


ROOTS = pl.DataFrame(
    {
        "sample_uid": [1, 2, 3],
        "path": ["a", "b", "c"],
        "metaxy_provenance_by_field": [{"audio": f"a{i}", "frames": f"f{i}"} for i in range(3)],
    }
)


@pytest.fixture
def store() -> mx.InMemoryMetadataStore:
    Root, _leaf = define()
    with mx.InMemoryMetadataStore() as s:
        s.write_metadata(Root, ROOTS)
        yield s


# -- accepted --------------------------------------------------------------------------------------


def test_with_store_open_w_opens_for_the_block_and_closes_after_it() -> None:
    Root, _leaf = define()
    store = mx.InMemoryMetadataStore()
    with store.open("w") as opened:
        assert opened is store
        assert store.is_open
        store.write(Root, ROOTS)
    assert not store.is_open


def test_open_with_an_unknown_mode_names_the_accepted_ones() -> None:
    with pytest.raises(LegacyAPIError, match="unknown access mode"):
        mx.InMemoryMetadataStore().open("rw")


def test_read_write_delete_are_aliases_with_0_1_keyword_names(store: mx.InMemoryMetadataStore) -> None:
    Root, _leaf = define()
    assert store.read(Root).collect().height == 3
    assert store.read(Root, filters=[pl.col("sample_uid") > 1], columns=["sample_uid"]).collect().height == 2
    assert store.delete(Root, pl.col("sample_uid") == 1) == 1
    assert store.read(Root).collect().height == 2
    assert store.read(Root, include_soft_deleted=True, with_sample_history=True).collect().height == 4
    store.write(Root, ROOTS.filter(pl.col("sample_uid") == 1), materialization_id="run-7")
    ids = store.read(Root).collect().sort("sample_uid")["metaxy_materialization_id"].to_list()
    assert ids[0] == "run-7"


def test_increment_unpacks_like_a_tuple_and_converts_to_polars(store: mx.InMemoryMetadataStore) -> None:
    _root, Leaf = define()
    new, stale, orphaned = store.resolve_update(Leaf)
    assert (new.height, stale.height, orphaned.height) == (3, 0, 0)
    lazy = store.resolve_update(Leaf, lazy=True)
    assert isinstance(lazy.to_polars().new, pl.DataFrame)
    assert lazy.to_polars().new.height == 3


def test_filters_as_a_mapping_keyed_by_the_feature_itself_are_accepted(
    store: mx.InMemoryMetadataStore,
) -> None:
    _root, Leaf = define()
    increment = store.resolve_update(Leaf, filters={Leaf: [pl.col("sample_uid") >= 2]})
    assert sorted(increment.new["sample_uid"]) == [2, 3]


def test_mx_init_loads_the_config_and_imports_the_entrypoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compat_init_features.py").write_text("LOADED = True\n")
    (tmp_path / "metaxy.toml").write_text('project = "p"\nentrypoints = ["compat_init_features"]\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = mx.init()
    assert config.project == "p"
    assert importlib.import_module("compat_init_features").LOADED


def test_the_0_1_config_layout_is_read_with_a_deprecation_warning(tmp_path: Path) -> None:
    path = tmp_path / "metaxy.toml"
    path.write_text(
        'project = "p"\nstore = "dev"\nauto_create_tables = true\n\n'
        '[stores.dev]\ntype = "metaxy.ext.metadata_stores.duckdb.DuckDBMetadataStore"\n'
        '[stores.dev.config]\ndatabase = "dev.duckdb"\nfallback_stores = ["prod"]\n\n'
        '[stores.prod]\ntype = "metaxy.ext.polars.handlers.delta.DeltaMetadataStore"\n'
        '[stores.prod.config]\nroot_path = "prod_delta"\n'
    )
    with pytest.warns(MetaxyDeprecationWarning, match="0.1.x configuration layout") as record:
        config = load_config(path)
    assert record[0].filename == __file__  # points at the caller, not inside metaxy
    assert config.stores["dev"].type == "duckdb"
    assert config.stores["dev"].options == {"db_path": "dev.duckdb"}
    assert config.stores["dev"].fallback_stores == ("prod",)
    assert config.stores["prod"].type == "delta"
    assert config.stores["prod"].options == {"table_uri": "prod_delta"}


def test_the_current_config_layout_reads_without_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "metaxy.toml"
    path.write_text('store = "dev"\n[stores.dev]\ntype = "duckdb"\ndb_path = "dev.duckdb"\n')
    assert load_config(path).stores["dev"].options == {"db_path": "dev.duckdb"}


# -- refused, naming the replacement ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "replacement"),
    [
        ({"staleness_predicates": [pl.col("x") > 1]}, "to_recompute"),
        ({"global_filters": [pl.col("x") > 1]}, "filters="),
        ({"target_filters": [pl.col("x") > 1]}, "filters="),
        ({"skip_comparison": True}, "read_metadata"),
        ({"versioning_engine": "polars"}, "constructor"),
    ],
)
def test_resolve_update_refuses_0_1_only_keywords_naming_the_replacement(
    store: mx.InMemoryMetadataStore, argument: dict[str, object], replacement: str
) -> None:
    _root, Leaf = define()
    with pytest.raises(LegacyAPIError, match=r"Metaxy 0\.1\.x") as info:
        store.resolve_update(Leaf, **argument)
    assert replacement in str(info.value)


def test_an_unknown_keyword_is_still_a_plain_type_error(store: mx.InMemoryMetadataStore) -> None:
    _root, Leaf = define()
    with pytest.raises(TypeError, match="unexpected keyword argument 'lazzy'"):
        store.resolve_update(Leaf, lazzy=True)


def test_filters_keyed_by_an_upstream_name_featuredep_filters(store: mx.InMemoryMetadataStore) -> None:
    Root, Leaf = define()
    with pytest.raises(LegacyAPIError, match="compat_api/root") as info:
        store.resolve_update(Leaf, filters={Root: [pl.col("sample_uid") > 1]})
    assert "FeatureDep(feature=..., filters=[...])" in str(info.value)


def test_narwhals_expressions_name_the_polars_spelling(store: mx.InMemoryMetadataStore) -> None:
    Root, _leaf = define()
    # narwhals is not a dependency: an object of a narwhals module stands for nw.col(...) > 1
    narwhals_expr = type("Expr", (), {"__module__": "narwhals.expr"})()
    with pytest.raises(LegacyAPIError, match="Narwhals") as info:
        store.read(Root, filters=[narwhals_expr])
    assert 'pl.col("x")' in str(info.value)


def test_read_with_store_info_and_write_preserving_versions_name_the_replacement(
    store: mx.InMemoryMetadataStore,
) -> None:
    Root, _leaf = define()
    with pytest.raises(LegacyAPIError, match="has_feature"):
        store.read(Root, with_store_info=True)
    with pytest.raises(LegacyAPIError, match="copy_metadata"):
        store.write(Root, ROOTS, preserve_feature_version=True)


@pytest.mark.parametrize(
    ("kwargs", "replacement"),
    [
        ({"database": "x.duckdb"}, "db_path"),
        ({"root_path": "x"}, "table_uri"),
        ({"connection_string": "x"}, "connection_url"),
        ({"extensions": ["hashfuncs"]}, "offline"),
        ({"auto_create_namespace": True}, "namespace is created"),
    ],
)
def test_0_1_constructor_arguments_name_the_new_ones(kwargs: dict[str, object], replacement: str) -> None:
    with pytest.raises(LegacyAPIError, match=replacement):
        mx.InMemoryMetadataStore(**kwargs)


def test_imports_from_metaxy_ext_name_the_new_home_of_each_store() -> None:
    with pytest.raises(LegacyImportError) as info:
        importlib.import_module("metaxy.ext.duckdb")
    message = str(info.value)
    assert "mx.DuckDBMetadataStore(db_path" in message
    assert "mx.DeltaMetadataStore(table_uri" in message
    assert "mx.IcebergMetadataStore(warehouse" in message
    assert isinstance(info.value, ImportError)


def test_a_0_1_store_class_with_no_equivalent_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "metaxy.toml"
    path.write_text('[stores.x]\ntype = "metaxy.ext.metadata_stores.lancedb.LanceDBMetadataStore"\n')
    with pytest.raises(mx.MetaxyError, match="no equivalent here"):
        load_config(path)


def test_map_columns_in_the_0_1_config_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "metaxy.toml"
    path.write_text("enable_map_datatype = true\n")
    with pytest.raises(mx.MetaxyError, match="enable_map_datatype"):
        load_config(path)


@pytest.mark.parametrize(
    ("argv", "replacement"),
    [
        (["describe", "video/raw"], "metaxy show FEATURE"),
        (["graph-diff"], "metaxy diff"),
        (["list", "features"], "Use metaxy list "),
        (["list", "stores"], "metaxy stores"),
        (["metadata", "status"], "metaxy status"),
        (["metadata", "rebase"], "metaxy migrate"),
        (["--config-file", "metaxy.toml", "list"], "--config PATH"),
        (["list", "--project=p"], "one project per config file"),
    ],
)
def test_0_1_command_line_names_exit_2_naming_the_new_command(
    argv: list[str], replacement: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from metaxy.cli import EXIT_USAGE, main

    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "Metaxy 0.1.x" in err
    assert replacement in err


def test_a_graph_of_a_feature_is_not_mistaken_for_a_0_1_command() -> None:
    from metaxy.cli._legacy import check_legacy_names

    check_legacy_names(["--store", "describe", "graph", "video/raw"])  # a store named "describe"


def test_a_current_config_naming_a_store_by_import_path_is_not_taken_for_0_1(tmp_path: Path) -> None:
    path = tmp_path / "metaxy.toml"
    path.write_text('[stores.dev]\ntype = "pipeline.stores:ParquetStore"\nroot = "data"\n')
    assert load_config(path).stores["dev"].type == "pipeline.stores:ParquetStore"  # no warning


def test_a_store_whose_own_option_shares_a_0_1_name_keeps_it(tmp_path: Path) -> None:
    store = mx.ClickHouseMetadataStore(f"chdb://{tmp_path / 'ch'}", database="mine")  # ClickHouse's own
    assert store.kind == "clickhouse"

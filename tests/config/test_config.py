"""metaxy.toml / [tool.metaxy] / METAXY_* settings, and errors that name the key and the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import metaxy as mx
from metaxy.config import load_config
from metaxy.exceptions import ConfigError
from metaxy.stores.registry import store_from_config

BASE = """
project = "demo"
store = "dev"
hash_algorithm = "xxhash64"
hash_truncation_length = 12

[stores.dev]
type = "memory"
fallback_stores = ["prod"]

[stores.prod]
type = "metaxy.stores.memory:InMemoryMetadataStore"
read_only = true
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("METAXY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "metaxy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_metaxy_toml_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    config = load_config(start=sub)
    assert config.source_file == path.resolve()
    assert (config.project, config.store, config.hash_truncation_length) == ("demo", "dev", 12)
    assert config.stores["prod"].options == {"read_only": True}


def test_tool_metaxy_in_pyproject_is_read(tmp_path: Path) -> None:
    write(
        tmp_path, '[project]\nname = "x"\n\n[tool.metaxy]\nentrypoints = ["pkg.features"]\n', "pyproject.toml"
    )
    config = load_config()
    assert config.entrypoints == ("pkg.features",)


def test_pyproject_without_tool_metaxy_is_not_a_config(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    assert load_config(start=tmp_path).source_file is None


def test_environment_overrides_nested_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, BASE)
    monkeypatch.setenv("METAXY_STORE", "prod")
    monkeypatch.setenv("METAXY_STORES__PROD__READ_ONLY", "false")
    monkeypatch.setenv("METAXY_HASH_ALGORITHM", "MD5")
    config = load_config()
    assert config.store == "prod"
    assert config.stores["prod"].options == {"read_only": False}
    assert config.hash_algorithm is mx.HashAlgorithm.MD5


def test_stores_are_built_with_fallbacks_and_project_hash_settings(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    store = store_from_config(load_config())
    assert isinstance(store, mx.InMemoryMetadataStore)
    assert store.name == "dev"
    [prod] = store.fallback_stores
    assert (prod.name, prod.read_only) == ("prod", True)
    assert store.hash_settings.algorithm.value == "xxhash64"
    assert prod.hash_settings.truncation == 12


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus = 1\n" + BASE, "Invalid configuration key 'bogus' in {file}: unknown setting."),
        (
            BASE.replace("hash_truncation_length = 12", 'hash_truncation_length = "long"'),
            "Invalid configuration key 'hash_truncation_length' in {file}: Input should be a valid integer",
        ),
        (
            BASE.replace('hash_algorithm = "xxhash64"', 'hash_algorithm = "crc"'),
            "Invalid configuration key 'hash_algorithm' in {file}",
        ),
        (
            BASE + "[stores.x]\nread_only = true\n",
            "Invalid configuration key 'stores.x.type' in {file}: Field required",
        ),
        (
            BASE.replace('fallback_stores = ["prod"]', 'fallback_stores = ["nope"]'),
            "Store 'dev' names an unknown fallback 'nope' ('stores.dev.fallback_stores' in {file}).",
        ),
        (
            BASE
            + '[stores.a]\ntype = "memory"\nfallback_stores = ["b"]\n[stores.b]\ntype = "memory"\nfallback_stores = ["a"]\n',
            "Fallback stores form a cycle: a -> b -> a ('stores.b.fallback_stores' in {file}).",
        ),
        (
            BASE.replace('store = "dev"', 'store = "staging"'),
            "The default store 'staging' ('store' in {file}) is not configured.",
        ),
        ("store = [\n", "{file} is not valid TOML"),
    ],
    ids=[
        "unknown-key",
        "bad-type",
        "bad-algorithm",
        "missing-type",
        "unknown-fallback",
        "cycle",
        "no-default",
        "toml",
    ],
)
def test_invalid_config_names_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config()
    assert info.value.message.startswith(
        message.format(file=path.resolve() if "{file} is" not in message else path)
    )
    assert info.value.hint


@pytest.mark.parametrize(
    ("store_table", "message"),
    [
        ('type = "lmdb"', "Unknown store type 'lmdb' for 'stores.dev.type' in {file}."),
        (
            'type = "memory"\ncolour = "red"',
            "InMemoryMetadataStore does not accept the option 'colour' ('stores.dev.colour' in {file}).",
        ),
        ('type = "no_such_pkg.mod:Store"', "Cannot import 'no_such_pkg.mod' for 'stores.dev.type' in {file}"),
        (
            'type = "metaxy.stores.memory:Nope"',
            "'metaxy.stores.memory' has no attribute 'Nope' ('stores.dev.type' in {file}).",
        ),
        (
            'type = "metaxy.config:MetaxyConfig"',
            "metaxy.config:MetaxyConfig ('stores.dev.type' in {file}) is not a MetadataStore subclass.",
        ),
    ],
    ids=["unknown-type", "unknown-option", "missing-module", "missing-class", "not-a-store"],
)
def test_unbuildable_store_names_the_key_and_the_file(tmp_path: Path, store_table: str, message: str) -> None:
    path = write(tmp_path, f'store = "dev"\n[stores.dev]\n{store_table}\n')
    with pytest.raises(ConfigError) as info:
        store_from_config(load_config())
    assert info.value.message.startswith(message.format(file=path.resolve()))


def test_an_environment_value_is_named_as_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, BASE)
    monkeypatch.setenv("METAXY_HASH_TRUNCATION_LENGTH", "3")
    with pytest.raises(ConfigError, match=r"'hash_truncation_length' in \$METAXY_HASH_TRUNCATION_LENGTH"):
        load_config()


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_entrypoint_that_cannot_be_imported_names_the_key(tmp_path: Path) -> None:
    from metaxy.config import load_entrypoints

    path = write(tmp_path, 'entrypoints = ["not_a_module_xyz"]\n')
    with pytest.raises(ConfigError) as info:
        load_entrypoints(load_config())
    assert info.value.message.startswith(
        f"Entrypoint 'not_a_module_xyz' ('entrypoints.0' in {path.resolve()})"
    )


def test_short_type_names_resolve_through_the_backend_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metaxy.stores import backends

    fake = backends.Backend("duckdb", "DuckDBMetadataStore", "tests.config.fake_backend", "duckdb")
    monkeypatch.setattr(backends, "BACKENDS", (fake,))
    write(tmp_path, '[stores.dev]\ntype = "duckdb"\ndb_path = "dev.duckdb"\nread_only = true\n')
    store = store_from_config(load_config())  # the only store is the default
    assert (type(store).__module__, store.db_path, store.read_only, store.name) == (  # type: ignore[attr-defined]
        "tests.config.fake_backend",
        "dev.duckdb",
        True,
        "dev",
    )


def test_wrapper_kinds_are_not_configuration_types(tmp_path: Path) -> None:
    path = write(tmp_path, '[stores.dev]\ntype = "cached"\n')
    with pytest.raises(ConfigError) as info:
        store_from_config(load_config())
    assert info.value.message == f"Unknown store type 'cached' for 'stores.dev.type' in {path.resolve()}."
    assert "clickhouse, delta, duckdb, iceberg, memory, spark, sqlalchemy" in info.value.hint


def test_one_catalog_object_is_shared_by_the_whole_chain(tmp_path: Path) -> None:
    write(tmp_path, BASE + '\n[catalog]\ntype = "memory"\n')
    store = store_from_config(load_config())
    assert store.catalog is not None
    assert store.fallback_stores[0].catalog is store.catalog

"""Relative store locations resolve against the config file's folder; read-only commands create nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from metaxy.cli import EXIT_USAGE
from metaxy.config import load_config, load_entrypoints
from metaxy.constants import PROVENANCE_BY_FIELD
from metaxy.stores.registry import store_from_config

STORES = """
[stores.duck]
type = "duckdb"
db_path = "data/dev.duckdb"

[stores.lake]
type = "delta"
table_uri = "data/lake"

[stores.lite]
type = "sqlalchemy"
connection_url = "sqlite:///data/meta.db"

[catalog]
type = "sqlite"
db_path = "data/catalog.db"
"""
#: store name -> where its data lives, relative to the project folder
LOCATIONS = {"duck": "data/dev.duckdb", "lake": "data/lake", "lite": "data/meta.db"}
READ_COMMANDS = [("status",), ("stats",), ("show", "video/raw"), ("diff",), ("history",)]


@pytest.fixture
def subfolder(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project with file-backed stores, and the working directory moved into a subfolder of it."""
    config = project / "metaxy.toml"
    config.write_text(config.read_text() + STORES)
    (project / "data").mkdir()
    sub = project / "notebooks" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    return sub


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts}


@pytest.mark.parametrize("store", sorted(LOCATIONS))
@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_read_commands_refuse_a_missing_store_and_create_nothing(
    run: Any, project: Path, subfolder: Path, store: str, command: tuple[str, ...]
) -> None:
    before = _files(project)
    result = run(*command, "--store", store)
    assert result.code == EXIT_USAGE, result.err
    assert result.err.startswith(f"Error: Store {store!r} does not exist at ")
    assert f"<project>/{LOCATIONS[store]}" in result.err  # the resolved path, under the config's folder
    assert _files(project) == before


@pytest.mark.parametrize("store", sorted(LOCATIONS))
def test_relative_locations_resolve_against_the_config_folder(
    run: Any, project: Path, subfolder: Path, store: str
) -> None:
    config = load_config()  # found upwards from the subfolder
    load_entrypoints(config)
    videos = pl.DataFrame({"video_id": ["v1", "v2"], "path": ["/a", "/b"]}).with_columns(
        pl.struct(audio=pl.lit("a"), frames=pl.lit("f")).alias(PROVENANCE_BY_FIELD)
    )
    with store_from_config(config, store) as opened:
        opened.write_metadata("video/raw", videos)
    assert (project / LOCATIONS[store]).exists()
    assert (project / "data" / "catalog.db").exists()
    result = run("status", "--store", store, "--format", "json")
    assert result.code == 0, result.err
    rows = {r["feature"]: r for r in json.loads(result.out)["features"]}
    assert (rows["video/raw"]["stored"], rows["video/transcript"]["new"]) == (2, 2)
    assert not [p for p in _files(subfolder) if p.startswith("data")]  # nothing next to the cwd


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_read_commands_refuse_a_missing_catalog_and_create_nothing(
    run: Any, project: Path, seeded: Path, command: tuple[str, ...]
) -> None:
    """The stores exist; the configured SQLite catalog file does not, and reading must not create it."""
    config = project / "metaxy.toml"
    config.write_text(config.read_text() + '\n[catalog]\ntype = "sqlite"\ndb_path = "data/catalog.db"\n')
    before = _files(project)
    result = run(*command)
    assert result.code == EXIT_USAGE, result.err
    assert result.err.startswith("Error: Catalog <project>/data/catalog.db does not exist."), result.err
    assert _files(project) == before


def test_a_read_only_sqlite_catalog_reads_a_file_without_its_table_as_empty(tmp_path: Path) -> None:
    import sqlite3

    import metaxy as mx

    path = tmp_path / "other.db"
    sqlite3.connect(path).close()
    before = path.read_bytes()
    with mx.SQLiteCatalog(path, read_only=True) as catalog:
        assert catalog.list_features() == []
        assert not catalog.has_feature("video/raw")
    assert path.read_bytes() == before

"""``relocate_iceberg.py`` moves a 0.1.11 Iceberg fixture by rewriting its paths, and nothing else."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from contextlib import closing
from pathlib import Path

import pytest

from tests.compat.relocate_iceberg import Move, read_avro, relocate_warehouse, write_avro

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD_ROOT: str = json.loads((FIXTURES / "expected.json").read_text())["iceberg"]["warehouse"]


def _unpack(tmp_path: Path, stage: str = "v2") -> Path:
    folder = tmp_path / stage
    with tarfile.open(FIXTURES / f"iceberg_{stage}.tar.gz") as tar:
        tar.extractall(folder, filter="data")
    return folder


def _catalog_values(folder: Path) -> list[str]:
    with closing(sqlite3.connect(folder / "catalog.db")) as db:
        rows = db.execute(
            "SELECT metadata_location, previous_metadata_location FROM iceberg_tables"
        ).fetchall()
    return [value for row in rows for value in row if value is not None]


def _is_file_under(uri: str, folder_uri: str) -> bool:
    return uri.startswith(folder_uri) and Path(uri.removeprefix("file://")).is_file()


def test_rewriting_without_a_move_reproduces_every_avro_file_byte_for_byte(tmp_path: Path) -> None:
    files = sorted(_unpack(tmp_path).rglob("*.avro"))
    assert len(files) == 6  # root: 2 manifest lists + 2 manifests; leaf: 1 + 1
    for path in files:
        assert write_avro(*read_avro(path)) == path.read_bytes(), path.name


def test_every_path_points_into_the_new_folder_and_exists(tmp_path: Path) -> None:
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.manifest import read_manifest_list

    folder, io = _unpack(tmp_path), PyArrowFileIO()
    relocate_warehouse(folder, OLD_ROOT)
    new_uri = folder.absolute().as_uri() + "/"
    assert len(_catalog_values(folder)) == 4
    for location in _catalog_values(folder):
        assert _is_file_under(location, new_uri)
    for path in folder.rglob("*.metadata.json"):
        assert OLD_ROOT not in path.read_text()
        for snapshot in json.loads(path.read_text()).get("snapshots", []):
            manifests = list(read_manifest_list(io.new_input(snapshot["manifest-list"])))
            for manifest in manifests:
                assert manifest.manifest_path.startswith(new_uri)
                assert (
                    Path(manifest.manifest_path.removeprefix("file://")).stat().st_size
                    == manifest.manifest_length
                )
                for entry in manifest.fetch_manifest_entry(io, discard_deleted=False):
                    assert _is_file_under(entry.data_file.file_path, new_uri)


def test_a_path_in_a_form_the_move_does_not_know_is_refused() -> None:
    move = Move("/old/warehouse", "/new/warehouse")
    assert move("file:///old/warehouse/metaxy/t") == "file:///new/warehouse/metaxy/t"
    assert move("/old/warehouse") == "/new/warehouse"
    assert move("/old/warehouse2/x") == "/old/warehouse2/x"  # another folder
    with pytest.raises(ValueError, match="does not rewrite"):
        move("sqlite:////old/warehouse/catalog.db")

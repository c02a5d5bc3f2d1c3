"""A hard delete whose filter names an unknown column deletes nothing, on a SQLite store too.

SQLite reads a double-quoted name it cannot resolve as a string literal, so without the column check
``"vlaue" IS NOT NULL`` would be true for every row and the feature would be emptied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("seeded")

_SQLITE = '\n[stores.lite]\ntype = "sqlalchemy"\nconnection_url = "sqlite:///lite.db"\n'


def test_hard_delete_on_sqlite_with_an_unknown_column_exits_non_zero_and_deletes_nothing(
    run: Any, project: Path
) -> None:
    config = project / "metaxy.toml"
    config.write_text(config.read_text() + _SQLITE)
    copied = run("metadata", "copy", "--from", "dev", "--to", "lite")
    assert copied.code == 0, copied.err
    before = _rows(run)
    assert before > 0
    result = run(
        "--store", "lite", "metadata", "delete", "video/raw", "--hard", "--filter", "vlaue IS NOT NULL"
    )
    assert result.code != 0
    assert "'vlaue'" in result.err
    assert "video/raw" in result.err
    assert result.err.splitlines()[-1].startswith("Hint: ")
    assert _rows(run) == before


def _rows(run: Any) -> int:
    stats = json.loads(run("--store", "lite", "stats", "video/raw", "--format", "json").out)
    return int(stats["features"][0]["rows"])

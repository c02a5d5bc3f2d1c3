"""A project with a ``[catalog]``: every configured store shares it, and stats read from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def with_catalog(project: Path, request: pytest.FixtureRequest) -> Path:
    config = project / "metaxy.toml"
    config.write_text(config.read_text() + '\n[catalog]\ntype = "sqlite"\ndb_path = "catalog.db"\n')
    request.getfixturevalue("seeded")  # written through stores that register in the catalog
    return project


@pytest.mark.usefixtures("with_catalog")
def test_stats_come_from_the_shared_catalog(run: Any) -> None:
    rows = {r["feature"]: r for r in json.loads(run("stats", "--format", "json").out)["features"]}
    assert rows["video/raw"]["source"] == "catalog"
    assert rows["video/raw"]["last_materialized_at"] is not None
    copied = run("metadata", "copy", "--from", "dev", "--to", "prod", "--format", "json")
    assert json.loads(copied.out)["copied"] == {"video/raw": 4, "video/transcript": 3}
    prod = {
        r["feature"]: r
        for r in json.loads(run("--store", "prod", "stats", "--format", "json").out)["features"]
    }
    assert prod["video/transcript"]["last_materialized_at"] is not None
    assert prod["video/faces"]["last_materialized_at"] is None

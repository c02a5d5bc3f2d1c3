"""``metaxy stats --partitions FEATURE`` on a partitioned Delta store of the sample project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from metaxy.config import load_config, load_entrypoints
from metaxy.constants import PROVENANCE_BY_FIELD
from metaxy.stores.registry import store_from_config

LAKE = """
[stores.lake]
type = "delta"
table_uri = ".metaxy/lake"
partition_cols = ["source"]
"""


def _seed_lake(project: Path) -> None:
    (project / "metaxy.toml").write_text((project / "metaxy.toml").read_text() + LAKE)
    config = load_config()
    load_entrypoints(config)
    rows = pl.DataFrame(
        {
            "video_id": [f"v{i}" for i in range(40)],
            "path": [f"/v/{i}.mp4" for i in range(40)],
            "source": [f"cam{i % 4}" for i in range(40)],
        }
    ).with_columns(pl.struct(audio=pl.col("video_id"), frames=pl.col("path")).alias(PROVENANCE_BY_FIELD))
    with store_from_config(config, "lake") as store:
        store.write_metadata("video/raw", rows)


def test_stats_partitions_shows_the_layout_files_and_advice(run: Any, project: Path, graph: Any) -> None:
    _seed_lake(project)
    result = run("--store", "lake", "stats", "--partitions", "video/raw", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["partition_columns"] == ["source"]
    assert (report["files"], report["rows"]) == (4, 40)
    assert report["advice"] == []  # 40 rows fill no file: not worth partitioning
    text = run("--store", "lake", "stats", "--partitions", "video/raw")
    assert text.code == 0, text.err
    assert "source" in text.out
    assert "no partitions" in text.out


def test_stats_partitions_of_an_unknown_feature_is_a_user_error(run: Any) -> None:
    result = run("--store", "scratch", "stats", "--partitions", "video/nope")
    assert result.code == 1
    assert "video/nope" in result.err

"""`metaxy lookup`: one sample across the sample project's graph, as a table and as JSON (snapshots)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from metaxy.config import load_config, load_entrypoints
from metaxy.stores.registry import store_from_config

pytestmark = pytest.mark.usefixtures("seeded")


def test_lookup_shows_each_feature_state_and_why(run: Any, snapshot: Any) -> None:
    result = run("lookup", "video_id=v1")
    assert result.code == 0, result.err
    assert result.out == snapshot


def test_lookup_as_json_lists_the_documented_columns(run: Any, snapshot: Any) -> None:
    result = run("lookup", "video_id=v4", "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert [f["status"] for f in document["features"]] == ["current", "new", "new"]
    assert result.out == snapshot


def test_lookup_refuses_a_pair_without_equals(run: Any) -> None:
    result = run("lookup", "v1")
    assert result.code == 2
    assert "'v1' is not COLUMN=VALUE" in result.err


def _fail_transcripts(project: Path, *ids: str) -> None:
    config = load_config()
    load_entrypoints(config)
    with store_from_config(config) as store:
        todo = store.resolve_update("video/transcript").to_recompute()
        failing = todo.filter(pl.col("video_id").is_in(ids))
        store.write_errors("video/transcript", failing, error=TimeoutError("speech model timed out"))
        store.write_errors("video/transcript", failing.head(1), error=RuntimeError("CUDA out of memory"))


def test_errors_groups_failed_samples_by_type_and_status_counts_them(
    run: Any, snapshot: Any, project: Path
) -> None:
    assert run("errors", "video/transcript").out.startswith("no failed samples of video/transcript")
    _fail_transcripts(project, "v1", "v4")
    result = run("errors", "video/transcript")
    assert result.code == 0, result.err
    assert result.out == snapshot
    document = json.loads(run("errors", "video/transcript", "--format", "json").out)
    assert [(g["error_type"], g["count"]) for g in document["errors"]] == [
        ("RuntimeError", 1),
        ("TimeoutError", 1),
    ]
    status = json.loads(run("status", "--format", "json").out)
    by_feature = {f["feature"]: f for f in status["features"]}
    assert (by_feature["video/transcript"]["failed"], by_feature["video/transcript"]["new"]) == (2, 0)
    looked = json.loads(run("lookup", "video_id=v1", "--format", "json").out)
    transcript = next(f for f in looked["features"] if f["feature"] == "video/transcript")
    assert (transcript["status"], transcript["attempts"]) == ("failed", 1)
    assert transcript["stale_fields"] == ["text"]

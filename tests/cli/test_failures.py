"""`metaxy lookup`: one sample across the sample project's graph, as a table and as JSON (snapshots)."""

from __future__ import annotations

import json
from typing import Any

import pytest

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

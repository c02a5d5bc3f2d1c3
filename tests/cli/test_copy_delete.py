"""`metadata copy` is idempotent and refuses a store into itself; `metadata delete --dry-run` deletes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("seeded")


def _stats(run: Any, *args: str) -> dict[str, Any]:
    out = run(*args, "stats", "--format", "json").out
    return {r["feature"]: r for r in json.loads(out)["features"]}


def test_copying_twice_appends_nothing_the_second_time(run: Any) -> None:
    first = run("metadata", "copy", "--from", "dev", "--to", "prod", "--format", "json")
    assert json.loads(first.out)["copied"] == {"video/raw": 4, "video/transcript": 3}
    again = run("metadata", "copy", "--from", "dev", "--to", "prod", "--format", "json")
    assert again.code == 0, again.err
    assert json.loads(again.out)["copied"] == {"video/raw": 0, "video/transcript": 0}
    assert _stats(run, "--store", "prod")["video/raw"]["rows"] == 4


def test_copying_a_store_into_itself_is_refused(run: Any) -> None:
    result = run("metadata", "copy", "--from", "dev", "--to", "dev")
    assert result.code == 1
    assert result.err.startswith("Error: Cannot copy metadata from dev into itself")
    assert _stats(run)["video/raw"]["rows"] == 5


# soft: v1 is one sample; hard: v1 has two stored rows (its audio changed); everything: 5 rows
@pytest.mark.parametrize(("mode", "expected"), [((), 1), (("--hard",), 2), (("--hard", "--yes"), 5)])
def test_delete_dry_run_counts_and_deletes_nothing(run: Any, mode: tuple[str, ...], expected: int) -> None:
    filters = () if "--yes" in mode else ("--filter", "video_id = 'v1'")
    result = run("metadata", "delete", "video/raw", *filters, *mode, "--dry-run", "--format", "json")
    assert result.code == 0, result.err
    assert (json.loads(result.out)["deleted"], json.loads(result.out)["dry_run"]) == (expected, True)
    stats = _stats(run)["video/raw"]
    assert (stats["samples"], stats["rows"]) == (4, 5)
    text = run("metadata", "delete", "video/raw", *filters, *mode, "--dry-run").out
    assert text.startswith("dry run: would ")
    assert "(nothing deleted)" in text

"""`metaxy metadata prune` and `metaxy migrate-schema` on the sample project (a third-party store)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("seeded")


def _rows(run: Any) -> int:
    stats = json.loads(run("stats", "--format", "json").out)["features"]
    return int(next(r["rows"] for r in stats if r["feature"] == "video/raw"))


def test_prune_dry_run_then_prune(run: Any) -> None:
    dry = run("metadata", "prune", "video/raw", "--dry-run", "--format", "json")
    assert dry.code == 0, dry.err
    assert (json.loads(dry.out)["pruned"], json.loads(dry.out)["dry_run"]) == (1, True)
    assert _rows(run) == 5
    text = run("metadata", "prune", "video/raw", "--older-than", "30d").out
    assert text.startswith("pruned 0 of 5 rows of video/raw in store dev")  # every row is recent
    done = run("metadata", "prune", "video/raw", "--keep-versions", "1", "--format", "json")
    assert json.loads(done.out)["pruned"] == 1
    assert _rows(run) == 4
    status = {r["feature"]: r for r in json.loads(run("status", "--format", "json").out)["features"]}
    # prune kept what increments read: v1's transcript is still stale, v4's still new
    assert (status["video/transcript"]["new"], status["video/transcript"]["stale"]) == (1, 1)


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (("--older-than", "soon"), 2, "is not an age"),
        (("--keep-versions", "0"), 1, "must be a whole number >= 1"),
    ],
)
def test_prune_bad_options(run: Any, args: tuple[str, ...], code: int, error: str) -> None:
    result = run("metadata", "prune", "video/raw", *args)
    assert result.code == code
    assert error in result.err


def test_migrate_schema_dry_run_apply_and_log(run: Any) -> None:
    args = ("migrate-schema", "video/raw", "--rename", "path=uri", "--add", "lang:String=en")
    dry = run(*args, "--dry-run", "--format", "json")
    assert dry.code == 0, dry.err
    report = json.loads(dry.out)
    assert (report["dry_run"], report["rows"], report["migration_id"]) == (True, 5, None)
    assert report["operations"] == ["rename path -> uri", "add lang String = 'en'"]
    applied = run(*args, "--by", "ops")
    assert applied.code == 0, applied.err
    assert applied.out.startswith("rewrote 5 rows of video/raw in store dev:")
    log = json.loads(run("migrate-schema", "video/raw", "--log", "--format", "json").out)
    assert [(m["applied_by"], m["rows"]) for m in log["migrations"]] == [("ops", 5)]
    again = run(*args)
    assert again.code == 1
    assert "cannot rename column 'path': it is not stored" in again.err


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (("--cast", "path:Int64"), 1, "would change 5 stored value(s); the first is '/v/1.mp4'"),
        (("--drop", "video_id"), 1, "it is an id column"),
        (("--cast", "path:Decimal"), 2, "is not a type this option knows"),
        (("--rename", "path"), 2, "is not OLD=NEW"),
        (("--add", "ok:Boolean=maybe"), 2, "is not true or false"),
    ],
)
def test_migrate_schema_bad_input(run: Any, args: tuple[str, ...], code: int, error: str) -> None:
    result = run("migrate-schema", "video/raw", *args)
    assert result.code == code
    assert error in result.err

"""push / history / diff / plan / migrate on the sample project, across a change of the code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import edit_features

pytestmark = pytest.mark.usefixtures("seeded")

AUDIO_V1 = 'mx.FieldSpec(key="audio", code_version="1")'
AUDIO_V2 = 'mx.FieldSpec(key="audio", code_version="2")'
TEXT_V1 = 'key="text", code_version="1"'
TEXT_V2 = 'key="text", code_version="2"'


def doc(result: Any) -> Any:
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_push_is_idempotent_and_history_lists_it(run: Any, snapshot: Any) -> None:
    first = doc(run("push", "--format", "json"))
    again = doc(run("push", "--format", "json"))
    assert (first["already_pushed"], again["already_pushed"]) == (False, True)
    assert first["snapshot_id"] == again["snapshot_id"]
    listed = doc(run("history", "--format", "json"))
    assert [(s["snapshot_id"], s["is_current"]) for s in listed["snapshots"]] == [
        (first["snapshot_id"], True)
    ]
    assert run("push").out == snapshot
    assert run("history").out == snapshot


def test_diff_without_any_snapshot_says_to_push(run: Any) -> None:
    result = run("diff")
    assert result.code == 1
    assert result.err.splitlines()[1] == (
        "Hint: Run `metaxy push` to record the current graph, or name two snapshots."
    )


def test_diff_and_plan_show_field_level_impact_of_a_code_change(
    run: Any, project: Path, snapshot: Any
) -> None:
    run("push")
    assert doc(run("diff", "--format", "json"))["changed"] == []
    edit_features(project, AUDIO_V1, AUDIO_V2)
    changes = doc(run("diff", "--format", "json"))
    assert [c["feature"] for c in changes["changed"]] == ["video/raw"]
    assert [c["feature"] for c in changes["impacted"]] == ["video/transcript"]  # faces read frames only
    planned = doc(run("plan", "--format", "json"))
    assert planned["samples_to_recompute"] == {"video/raw": 4, "video/transcript": 3}
    assert run("diff").out == snapshot
    assert run("plan").out == snapshot


def test_migrate_restamps_rows_so_a_refactor_recomputes_nothing(
    run: Any, project: Path, snapshot: Any
) -> None:
    # start from up-to-date transcripts only: drop v1's, which is stale for a real reason (its audio changed)
    run("metadata", "delete", "video/transcript", "--filter", "video_id = 'v1'")
    edit_features(project, TEXT_V1, TEXT_V2)
    before = {r["feature"]: r for r in doc(run("status", "--format", "json"))["features"]}
    assert before["video/transcript"]["stale"] == 2  # every stored transcript is at the old version
    dry = doc(run("migrate", "video/transcript", "--code-version", "2", "--dry-run", "--format", "json"))
    assert dry["dry_run"] is True
    assert doc(run("status", "video/transcript", "--format", "json"))["features"][-1]["stale"] == 2
    result = run("migrate", "video/transcript", "--code-version", "2")
    assert (result.code, result.out) == snapshot
    after = doc(run("status", "video/transcript", "--format", "json"))["features"][-1]
    assert (after["new"], after["stale"]) == (2, 0)  # v1 was deleted and v4 never had a transcript


def test_migrate_with_the_wrong_code_version_is_refused(run: Any) -> None:
    result = run("migrate", "video/transcript", "--code-version", "9")
    assert result.code == 1
    assert result.err.startswith("Error: Feature 'video/transcript' has no field at code_version '9'")


NEW_FEATURE = """

class Captions(
    mx.Feature,
    spec=mx.FeatureSpec(key="video/captions", id_columns=["video_id"], fields=[mx.FieldSpec(key="srt")]),
):
    pass
"""


def test_diff_of_an_added_feature_lists_it_without_an_empty_table(run: Any, project: Path) -> None:
    run("push")
    features = project / "pipeline" / "features.py"
    features.write_text(features.read_text() + NEW_FEATURE)
    assert doc(run("diff", "--format", "json"))["added"] == ["video/captions"]
    lines = run("diff").out.splitlines()
    assert any("video/captions" in line and "added" in line for line in lines)
    assert not any("changed features" in line for line in lines)  # no table with nothing in it

"""The Dagster example runs: incremental passes, stable data versions, staleness after a bump."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).parents[3] / "examples" / "dagster_pipeline" / "definitions.py"


def test_example_recomputes_only_transcripts_after_the_audio_bump() -> None:
    first, second, third = runpy.run_path(str(EXAMPLE))["main"]()
    assert {k: v["new"] for k, v in first["assets"].items()} == {
        "video/raw": 6,
        "video/transcript": 6,
        "video/faces": 6,
    }
    assert {k: v["written"] for k, v in second["assets"].items()} == dict.fromkeys(first["assets"], 0)
    assert {k: v["data_version"] for k, v in second["assets"].items()} == {
        k: v["data_version"] for k, v in first["assets"].items()
    }
    assert third["stale_before"] == {"video/raw", "video/transcript"}
    assert third["assets"]["video/transcript"]["stale"] == 6
    assert third["assets"]["video/faces"]["written"] == 0

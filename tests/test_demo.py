"""The README's demo runs and shows the field-level behaviour it promises."""

from __future__ import annotations

import runpy
from pathlib import Path

DEMO = Path(__file__).parents[1] / "examples" / "video_pipeline" / "run_demo.py"


def test_demo_shows_stale_transcripts_and_untouched_faces() -> None:
    first, second, third = runpy.run_path(str(DEMO))["main"]()
    assert {k: v.counts["new"] for k, v in first.items()} == {
        "video/raw": 6,
        "video/transcript": 6,
        "video/faces": 6,
    }
    assert all(inc.is_empty for inc in second.values())
    assert third["video/transcript"].counts == {"new": 0, "stale": 6, "orphaned": 0}
    assert third["video/faces"].is_empty

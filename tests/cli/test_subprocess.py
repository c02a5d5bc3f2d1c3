"""The real entry point, once, in a separate process inside the sample project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import metaxy

REPO = Path(metaxy.__file__).resolve().parent.parent


@pytest.mark.usefixtures("seeded")
def test_python_m_metaxy_cli_runs_in_the_project_directory(project: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    env = {k: v for k, v in env.items() if not k.startswith("METAXY_")}
    args = [sys.executable, "-m", "metaxy.cli", "status", "--format", "json", "--assert-in-sync"]
    done = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr  # transcripts and faces are still to do
    assert done.stderr == ""
    document = json.loads(done.stdout)
    assert document["store"] == "dev"
    assert {r["feature"]: r["state"] for r in document["features"]} == {
        "video/raw": "in-sync",
        "video/faces": "to-do",
        "video/transcript": "to-do",
    }
    bad = subprocess.run(
        [sys.executable, "-m", "metaxy.cli", "show", "nope/x"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[0] == "Error: Feature 'nope/x' is not in the feature graph."
    assert "Traceback" not in bad.stderr

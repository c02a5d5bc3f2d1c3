"""A copy of the sample project per test, seeded with metadata, and a runner for in-process CLI calls."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

import metaxy as mx
from metaxy.cli import main
from metaxy.config import load_config, load_entrypoints
from metaxy.constants import PROVENANCE_BY_FIELD
from metaxy.stores.registry import store_from_config

PROJECT = Path(__file__).parent / "project"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?")


@dataclass
class Result:
    """Exit code and captured output of one CLI call, with run-specific bits made stable."""

    code: int
    out: str
    err: str


def _forget_project_modules() -> None:
    # the project's modules register features on import; each CLI call must import them afresh
    for name in [m for m in sys.modules if m == "pipeline" or m.startswith("pipeline.")]:
        del sys.modules[name]


def stable(text: str, root: Path) -> str:
    """Replace the temporary project path and timestamps, so snapshots are reproducible."""
    return _TIMESTAMP.sub("<TIME>", text.replace(str(root), "<project>"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh copy of tests/cli/project as the working directory; no METAXY_* variables leak in."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns(".metaxy", "__pycache__"))
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # tests edit the project's modules
    monkeypatch.setenv("COLUMNS", "100")
    for name in [n for n in os.environ if n.startswith("METAXY_")]:
        monkeypatch.delenv(name)
    _forget_project_modules()
    yield root
    _forget_project_modules()


@pytest.fixture
def run(project: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Call ``metaxy ARGS...`` in-process; returns a :class:`Result` with stable text."""

    def invoke(*args: str) -> Result:
        _forget_project_modules()
        importlib.invalidate_caches()
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, stable(captured.out, project), stable(captured.err, project))

    return invoke


def _provenance(audio: str, frames: str) -> pl.Expr:
    return pl.struct(pl.lit(audio).alias("audio"), pl.lit(frames).alias("frames"))


@pytest.fixture
def seeded(project: Path, graph: mx.FeatureGraph) -> Path:
    """Store ``dev`` holds 4 videos and 3 transcripts, one of them stale (its audio changed since)."""
    config = load_config()
    load_entrypoints(config)
    store = store_from_config(config)
    videos = pl.DataFrame(
        {"video_id": ["v1", "v2", "v3", "v4"], "path": [f"/v/{i}.mp4" for i in range(1, 5)]}
    )
    with store:
        store.write_metadata(
            "video/raw", videos.with_columns(_provenance("a1", "f1").alias(PROVENANCE_BY_FIELD))
        )
        todo = store.resolve_update("video/transcript")
        done = todo.new.filter(pl.col("video_id") != "v4").with_columns(
            text=pl.lit("hi"), language=pl.lit("en")
        )
        store.write_metadata("video/transcript", done)
        changed = videos.filter(pl.col("video_id") == "v1").with_columns(
            _provenance("a2", "f1").alias(PROVENANCE_BY_FIELD)
        )
        store.write_metadata("video/raw", changed)
    _forget_project_modules()
    return project


def edit_features(root: Path, old: str, new: str) -> None:
    """Change the project's feature definitions (the next CLI call imports the new code)."""
    path = root / "pipeline" / "features.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))

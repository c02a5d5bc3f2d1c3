"""A seeded project (tests/server/project) and ``metaxy serve`` running on it as a subprocess."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).parent / "project"
REPO = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120  # a loaded 2-core CI machine needs tens of seconds to import everything


def project_env(root: Path) -> dict[str, str]:
    """The environment of a CLI subprocess: this checkout and the project first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAXY_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(root), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def web_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with its DuckDB store seeded by ``seed.py`` (one per test module)."""
    root = tmp_path_factory.mktemp("web") / "project"
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns("__pycache__", "*.duckdb"))
    subprocess.run([sys.executable, "seed.py"], cwd=root, env=project_env(root), check=True, timeout=300)
    return root


@dataclass
class Served:
    """A running ``metaxy serve``: its base URL (ending in ``/``) and the process."""

    url: str
    process: subprocess.Popen[str]


def start_server(root: Path, *args: str) -> Served:
    """``metaxy serve --port 0 ARGS`` in ``root``; waits for the line announcing its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "metaxy.cli", "serve", "--port", "0", *args],
        cwd=root,
        env=project_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    try:
        line = lines.get(timeout=STARTUP_SECONDS)
    except queue.Empty:
        process.kill()
        raise AssertionError(f"metaxy serve did not start in {STARTUP_SECONDS} s") from None
    if "http://" not in line:
        process.kill()
        raise AssertionError(f"metaxy serve failed: {line}{process.stderr.read() if process.stderr else ''}")
    url = line[line.index("http://") :].split()[0]
    return Served(url, process)


def stop_server(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()
    for stream in (served.process.stdout, served.process.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture(scope="module")
def server(web_project: Path) -> Iterator[Served]:
    served = start_server(web_project)
    yield served
    stop_server(served)

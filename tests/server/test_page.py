"""The web page in a real headless browser (Debian's chromium): the DOM it renders from the running
server holds the feature names, the DAG's nodes and edges, a feature's details and a lookup result.

Screenshots go to ``test-artifacts/`` at the repository root (git-ignored).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server.conftest import REPO, Served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/run installs it in CI)"
)


def browse(url: str, tmp_path: Path, *, screenshot: Path | None = None) -> str:
    """The DOM of ``url`` once its scripts ran (virtual time lets the page's fetches finish)."""
    assert CHROMIUM is not None
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,1000",
        "--virtual-time-budget=30000",
    ]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_page_lists_features_draws_the_dag_and_shows_a_lookup(server: Served, tmp_path: Path) -> None:
    dom = browse(server.url + "#lookup=sample_uid=2", tmp_path)
    assert 'data-ready="true"' in dom, dom[-3000:]
    listed = re.findall(r'<li data-key="([^"]+)"', dom)
    assert len(listed) == 58
    assert listed[:2] == ["video/raw", "video/transcript"]
    nodes = re.findall(r'<g class="node state-([a-z-]+)" data-key="([^"]+)"', dom)
    assert len(nodes) == 58
    assert ("in-sync", "video/raw") in nodes
    assert ("to-do", "video/transcript") in nodes
    assert 'data-from="video/raw" data-to="video/transcript"' in dom
    lookup = dom[dom.index('id="lookup-table"') :]
    sample = '<td>{"sample_uid":2}</td>'
    assert f'<td>video/raw</td>{sample}<td><span class="badge current">current</span>' in lookup
    assert f'<td>video/transcript</td>{sample}<td><span class="badge stale">stale</span>' in lookup
    assert "upstream video/raw.audio changed" in lookup
    assert f'<td>video/faces</td>{sample}<td><span class="badge new">new</span>' in lookup


def test_feature_view_and_screenshot(server: Served, tmp_path: Path) -> None:
    dom = browse(server.url + "#feature=video/transcript", tmp_path)
    title = dom[dom.index('id="feature-title"') :]
    assert title.startswith('id="feature-title">video/transcript <span class="badge to-do">to-do</span>')
    assert "<td>text</td><td>1</td>" in dom  # the field table: text, code version 1
    assert '<g class="node state-to-do selected" data-key="video/transcript"' in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "web-page-feature.png"
    shot.unlink(missing_ok=True)
    browse(server.url + "#feature=video/transcript", tmp_path, screenshot=shot)
    assert shot.stat().st_size > 10_000  # a drawn page, not an empty canvas

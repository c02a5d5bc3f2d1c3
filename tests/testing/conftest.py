"""Helpers to run throwaway test files with metaxy's plugin loaded exactly as an installed metaxy loads it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


@pytest.fixture
def installed_plugin(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """Put a distribution declaring pyproject's ``pytest11`` entry points on ``sys.path``.

    The shared development install may predate the entry point, so the test installs the entry point
    from ``pyproject.toml`` itself: pytest then discovers the plugin the way it does for users.
    Returns the entry point's name.
    """
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["pytest11"]
    site = tmp_path_factory.mktemp("site")
    dist = site / "metaxy_plugin_probe-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: metaxy-plugin-probe\nVersion: 0.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in declared.items())
    (dist / "entry_points.txt").write_text(f"[pytest11]\n{lines}")
    monkeypatch.syspath_prepend(str(site))
    (name,) = declared
    return str(name)

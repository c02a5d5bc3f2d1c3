"""The Ray example runs end to end: resolve_update → Ray map → sink → resolve_update is empty, twice."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="ray is not installed (pip install 'metaxy[ray]')")

EXAMPLE = Path(__file__).parents[2] / "examples" / "ray_pipeline" / "run_ray.py"


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.xdist_group("ray")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")
def test_the_ray_example_leaves_nothing_to_do() -> None:
    seen = runpy.run_path(str(EXAMPLE))["main"]()
    assert seen["first"] == {"new": 2000, "stale": 0, "orphaned": 0}
    assert seen["written_first"] == 2000
    assert seen["after_first"] == {"new": 0, "stale": 0, "orphaned": 0}
    assert seen["after_change"] == {"new": 0, "stale": 1000, "orphaned": 0}
    assert seen["written_second"] == 1000
    assert seen["final"] == {"new": 0, "stale": 0, "orphaned": 0}

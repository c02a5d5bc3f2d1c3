"""Repository-wide pytest configuration: hypothesis profiles, pytester, and metaxy's own plugin.

metaxy's plugin (``metaxy.testing.pytest_plugin``) gives every test an isolated feature graph through its
autouse ``metaxy_graph`` fixture. It loads through the ``pytest11`` entry point once metaxy is installed
with it; until then (an older editable install) this file loads it, so it is never registered twice.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import pytest
from hypothesis import HealthCheck, settings

import metaxy as mx

PLUGIN = "metaxy.testing.pytest_plugin"


def _plugin_is_installed() -> bool:
    return any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))


# pytester for plugin tests, the real servers (PostgreSQL, S3, chdb dir) as session fixtures
pytest_plugins = ["pytester", "tests.servers"] + ([] if _plugin_is_installed() else [PLUGIN])

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def graph(metaxy_graph: mx.FeatureGraph) -> mx.FeatureGraph:
    """The test's isolated active feature graph (the plugin's ``metaxy_graph``, by its short name)."""
    return metaxy_graph

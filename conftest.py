"""Repository-wide pytest configuration: hypothesis profiles and the isolated feature graph."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import metaxy as mx

# real servers (PostgreSQL, S3, embedded ClickHouse dir) as session fixtures, registered once for all tests
pytest_plugins = ["tests.servers"]

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def graph() -> Iterator[mx.FeatureGraph]:
    """Every test gets its own active feature graph, so feature classes never leak between tests."""
    with mx.FeatureGraph().use() as active:
        yield active

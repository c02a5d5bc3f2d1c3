"""The Spark tests' one session per test process: started by the first test that needs it (slow: a JVM)."""

from __future__ import annotations

import pytest

from metaxy.stores.spark.session import java_missing


def skip_without_java() -> None:
    """Skip the calling test on a machine with no Java runtime, saying so."""
    missing = java_missing()
    if missing:
        pytest.skip(f"Spark needs Java: {missing} (CI installs openjdk-17-jre-headless)")

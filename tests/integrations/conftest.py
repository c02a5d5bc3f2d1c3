"""Real local clusters, started once per session: Ray (2 CPUs, no dashboard) and Dask (2 worker processes).

Workers import metaxy and the test features from this checkout: its root goes first on their PYTHONPATH.
"""

from __future__ import annotations

import importlib
import os
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import metaxy as mx
from tests.integrations.stores import WRITERS, StoreFactory, writer_store

REPO = Path(__file__).resolve().parents[2]


def worker_pythonpath() -> str:
    return os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'metaxy[ray]')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Ray's own, about its own settings
        for attempt in range(3):
            try:
                ray.init(
                    num_cpus=2,
                    include_dashboard=False,
                    log_to_driver=False,
                    runtime_env={"env_vars": {"PYTHONPATH": worker_pythonpath()}},
                )
                break
            except Exception as exc:  # Ray waits a fixed 30 s for its raylet: too short on a loaded machine
                if attempt == 2 or "timed out during startup" not in str(exc):
                    raise
                _stop_half_started_node(exc)
        ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()


def _stop_half_started_node(exc: BaseException) -> None:
    """Stop the processes of a Ray node that timed out starting: ``ray.init`` keeps no handle on them
    (``ray.shutdown`` would not stop them), the failed ``Node`` is only in the traceback."""
    tb = exc.__traceback__
    while tb is not None:
        node = tb.tb_frame.f_locals.get("self")
        if type(node).__name__ == "Node" and hasattr(node, "kill_all_processes"):
            node.kill_all_processes(check_alive=False, allow_graceful=False, wait=True)
            return
        tb = tb.tb_next


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip(
        "distributed", reason="dask is not installed (pip install 'metaxy[dask]')"
    )
    os.environ["PYTHONPATH"] = worker_pythonpath()  # worker processes inherit it
    # the HTTP endpoint on any free port: two xdist workers may each start a cluster
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(params=WRITERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """One store per kind the cluster tests write to."""
    return writer_store(request.param, tmp_path, request)


DRIVER_ONLY_SOURCE = """
import polars as pl

import metaxy as mx


def long_enough(ids: pl.Series) -> pl.Series:
    return ids >= 0


class Up(mx.Feature, spec=mx.FeatureSpec(key="only/up", fields=[mx.FieldSpec(key="a")])):
    pass


class Down(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="only/down",
        deps=[mx.FeatureDep(feature=Up, filters=[pl.col("sample_uid").map_batches(long_enough)])],
        fields=[mx.FieldSpec(key="a")],
    ),
):
    pass
"""


@pytest.fixture
def driver_only_features(tmp_path: Path) -> Iterator[tuple[str, Any, Any]]:
    """A module only the driver imports (no worker has ``tmp_path`` on its path), its name, and its two
    features: ``Down`` filters ``Up`` with a Python function of that module, which travels by name."""
    name = f"driver_only_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(DRIVER_ONLY_SOURCE)
    sys.path.insert(0, str(tmp_path))
    try:
        with mx.FeatureGraph().use():
            module = importlib.import_module(name)
        yield name, module.Up, module.Down
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)

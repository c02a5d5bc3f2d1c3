"""Stores the Dagster tests run on (in-memory, DuckDB, Delta) and helpers to read run results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

import metaxy as mx

STORES = {
    "memory": lambda tmp: mx.InMemoryMetadataStore(),
    "duckdb": lambda tmp: mx.DuckDBMetadataStore(tmp / "meta.duckdb"),
    "delta": lambda tmp: mx.DeltaMetadataStore(tmp / "delta"),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> mx.MetadataStore:
    """A closed store: the Dagster resource opens it for each run."""
    made: mx.MetadataStore = STORES[request.param](tmp_path)
    return made


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """Asset key string -> its (only) materialization event of the run."""
    out = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        out[mat.asset_key.to_user_string()] = mat
    return out


def counts(mat: Any) -> dict[str, int]:
    return {k.removeprefix("metaxy/"): v.value for k, v in mat.metadata.items() if k != "metaxy/preview"}


def data_versions(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {key: mat.tags["dagster/data_version"] for key, mat in materializations(result).items()}


@pytest.fixture
def instance(tmp_path: Path) -> dg.DagsterInstance:
    """An in-process Dagster instance keeping its event log under ``tmp_path``."""
    return dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "dagster"))

"""The stores the cluster tests write to, shared by the Ray and the Dask tests."""

from __future__ import annotations

import importlib
import os
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest

import metaxy as mx

StoreFactory = Callable[[], mx.MetadataStore]
#: stores the workers write directly, and DuckDB (one file, one writer) through a single writer
WRITERS = ["delta", "duckdb", "postgres", "sqlite"]


def features() -> ModuleType:
    """The test features, imported by name as the workers import them."""
    return importlib.import_module("tests.integrations.features")


def writer_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreFactory:
    """A picklable zero-argument factory for a store of ``kind`` the workers can reach."""
    if kind == "delta":
        return partial(mx.DeltaMetadataStore, str(tmp_path / "delta"))
    if kind == "duckdb":
        return partial(mx.DuckDBMetadataStore, str(tmp_path / "meta.duckdb"))
    if kind == "sqlite":
        return partial(mx.SQLAlchemyMetadataStore, f"sqlite:///{tmp_path / 'meta.db'}")
    url = request.getfixturevalue("postgres_url")
    return partial(mx.SQLAlchemyMetadataStore, url, table_prefix=f"w{uuid.uuid4().hex[:10]}_")


def driver_only_duckdb(path: str, driver_pid: int) -> mx.MetadataStore:
    """A DuckDB file only the driver reaches: in any other process the path is on a disk not mounted there."""
    return mx.DuckDBMetadataStore(path if os.getpid() == driver_pid else f"/not-mounted{path}")

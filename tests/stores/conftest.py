"""The ``store`` fixture: every conformance test runs once per store factory.

Adding a store to the suite means adding one entry to ``STORE_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import metaxy as mx

StoreFactory = Callable[..., mx.MetadataStore]


def memory(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    return mx.InMemoryMetadataStore(**kwargs)


def memory_chain(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    prod = mx.InMemoryMetadataStore(name="prod", **{k: v for k, v in kwargs.items() if k.startswith("hash")})
    return mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod], **kwargs)


def duckdb(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    return mx.DuckDBMetadataStore(tmp_path / "metaxy.duckdb", **kwargs)


def duckdb_md5_native(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """DuckDB hashing in SQL: md5 unless the test asks for another algorithm."""
    kwargs.setdefault("hash_algorithm", "md5")
    return mx.DuckDBMetadataStore(tmp_path / "metaxy.duckdb", **kwargs)


def duckdb_over_memory(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """A fallback chain mixing store types: a DuckDB dev store reading through to in-memory prod."""
    prod = mx.InMemoryMetadataStore(name="prod", **{k: v for k, v in kwargs.items() if k.startswith("hash")})
    return mx.DuckDBMetadataStore(tmp_path / "dev.duckdb", name="dev", fallback_stores=[prod], **kwargs)


STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": memory,
    "memory-chain": memory_chain,
    "duckdb": duckdb,
    "duckdb-md5-native": duckdb_md5_native,
    "duckdb-over-memory": duckdb_over_memory,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    factory = STORE_FACTORIES[request.param]
    return lambda **kwargs: factory(tmp_path, **kwargs)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[mx.MetadataStore]:
    with store_factory() as opened:
        yield opened

"""The ``store`` fixture: every conformance test runs once per store factory.

Adding a store to the suite means adding one entry to ``STORE_FACTORIES``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import metaxy as mx
from tests.servers import chdb_path, postgres_url

__all__ = ["chdb_path", "postgres_url"]  # session fixtures, re-exported for pytest

StoreFactory = Callable[..., mx.MetadataStore]


def memory(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    return mx.InMemoryMetadataStore(**kwargs)


def memory_chain(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    prod = mx.InMemoryMetadataStore(name="prod", **{k: v for k, v in kwargs.items() if k.startswith("hash")})
    return mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod], **kwargs)


def sqlite(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    return mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'meta.db'}", **kwargs)


def sqlite_chain(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """A chain mixing store types: SQLite in front of an in-memory production store."""
    hashing = {k: v for k, v in kwargs.items() if k.startswith("hash")}
    prod = mx.InMemoryMetadataStore(name="prod", **hashing)
    return mx.SQLAlchemyMetadataStore(
        f"sqlite:///{tmp_path / 'dev.db'}", name="dev", fallback_stores=[prod], **kwargs
    )


def postgres(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    # one server per session; every test gets its own table prefix (tables never collide)
    return mx.SQLAlchemyMetadataStore(_postgres_url(), table_prefix=_unique("t"), **kwargs)


def clickhouse(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    # chdb allows one data directory per process: each test gets its own database in it
    return mx.ClickHouseMetadataStore(f"chdb://{_chdb_dir()}", database=_unique("db"), **kwargs)


CLICKHOUSE_URL_ENV = "METAXY_TEST_CLICKHOUSE_URL"


def clickhouse_server(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """A real ClickHouse server through clickhouse-connect, named by ``METAXY_TEST_CLICKHOUSE_URL``."""
    return mx.ClickHouseMetadataStore(os.environ[CLICKHOUSE_URL_ENV], database=_unique("db"), **kwargs)


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
    "sqlite": sqlite,
    "sqlite-chain": sqlite_chain,
    "postgres": postgres,
    "clickhouse": clickhouse,
    "clickhouse-server": clickhouse_server,
    "duckdb": duckdb,
    "duckdb-md5-native": duckdb_md5_native,
    "duckdb-over-memory": duckdb_over_memory,
}

_SERVERS: dict[str, Any] = {}


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}_"


def _postgres_url() -> str:
    return str(_SERVERS["postgres_url"])


def _chdb_dir() -> str:
    return str(_SERVERS["chdb_path"])


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    factory = STORE_FACTORIES[request.param]
    # servers start lazily, once per session, and only for the factories that need them
    if request.param == "postgres":
        _SERVERS["postgres_url"] = request.getfixturevalue("postgres_url")
    elif request.param == "clickhouse":
        _SERVERS["chdb_path"] = request.getfixturevalue("chdb_path")
    elif request.param == "clickhouse-server" and not os.environ.get(CLICKHOUSE_URL_ENV):
        pytest.skip(f"no ClickHouse server: set {CLICKHOUSE_URL_ENV}=http://user:password@host:8123 to run")
    return lambda **kwargs: factory(tmp_path, **kwargs)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[mx.MetadataStore]:
    with store_factory() as opened:
        yield opened

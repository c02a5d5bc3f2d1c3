"""Store configurations to benchmark, looked up by public class name so new backends join when merged.

A configuration names a class from ``metaxy.stores`` (the in-memory store or a ``LAZY_STORES`` entry)
and how to build it in a fresh directory. When the class is not on this branch, or its driver is not
installed, the configuration is skipped with a printed note instead of failing the run.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import metaxy.stores
from metaxy.exceptions import MetaxyError

HASH = "xxhash64"  # the anchor's Polars/Delta configurations and the floor hash with xxhash64
#: PostgreSQL configurations run against this server (a SQLAlchemy URL); skipped when it is unset
POSTGRES_URL_ENV = "METAXY_BENCH_POSTGRES_URL"


def _postgres(native: bool) -> Callable[[Path], dict[str, Any]]:
    """Keyword arguments of a store on the benchmark server, in tables of its own.

    The table prefix comes from the work directory, so a phase process opening the same directory
    finds the same tables.
    """

    def kwargs(d: Path) -> dict[str, Any]:
        options: dict[str, Any] = {
            "connection_url": os.environ[POSTGRES_URL_ENV],
            "table_prefix": f"b{hashlib.sha256(str(d.resolve()).encode()).hexdigest()[:8]}_",
        }
        if native:
            options.update(enable_native_computation=True, versioning_engine="native")
        return options

    return kwargs


def drop_postgres_tables(store: metaxy.stores.MetadataStore) -> None:
    """Drop the tables of a benchmark store (those under its table prefix) from the server: each round
    writes new ones, and a 10M round leaves ~6 GB behind (past sessions' runs filled a disk with 64 GB)."""
    import sqlalchemy

    prefix = store.table_prefix  # type: ignore[attr-defined]
    with store, store.engine.begin() as conn:  # type: ignore[attr-defined]
        names = conn.execute(
            sqlalchemy.text(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND left(table_name, length(:prefix)) = :prefix"
            ),
            {"prefix": prefix},
        ).scalars()
        for name in list(names):
            conn.execute(sqlalchemy.text(f"DROP TABLE {conn.dialect.identifier_preparer.quote(name)}"))


@dataclass(frozen=True)
class StoreConfig:
    """A named way to build one store: class name plus keyword arguments for a work directory."""

    name: str
    class_name: str
    kwargs: Callable[[Path], dict[str, Any]]
    hash_algorithm: str = HASH
    #: an environment variable the configuration needs (a server's URL); skipped when unset
    needs_env: str | None = None
    #: whether another process can open the store (False: its data lives in the process)
    persistent: bool = True
    #: removes what a store of the configuration keeps outside its work directory (a server's tables)
    drop: Callable[[metaxy.stores.MetadataStore], None] | None = None


CONFIGS: tuple[StoreConfig, ...] = (
    StoreConfig("memory", "InMemoryMetadataStore", lambda d: {}, persistent=False),
    # the default embedded store: xxhash64 is not built into DuckDB, so the Polars engine versions
    StoreConfig("duckdb", "DuckDBMetadataStore", lambda d: {"db_path": d / "store.duckdb"}),
    # the same, trading file size for speed: string columns written uncompressed
    StoreConfig(
        "duckdb-uncompressed",
        "DuckDBMetadataStore",
        lambda d: {"db_path": d / "store.duckdb", "compress_strings": False},
    ),
    # the anchor's DuckDB setups hash with md5, the only algorithm DuckDB has offline
    StoreConfig(
        "duckdb-native-md5",
        "DuckDBMetadataStore",
        lambda d: {"db_path": d / "store.duckdb", "versioning_engine": "native"},
        hash_algorithm="md5",
    ),
    StoreConfig("delta", "DeltaMetadataStore", lambda d: {"table_uri": str(d / "delta")}),
    StoreConfig("iceberg", "IcebergMetadataStore", lambda d: {"warehouse": str(d / "iceberg")}),
    StoreConfig(
        "clickhouse-chdb",
        "ClickHouseMetadataStore",
        lambda d: {"connection_url": f"chdb://{d / 'chdb'}", "versioning_engine": "native"},
    ),
    StoreConfig("sqlite", "SQLAlchemyMetadataStore", lambda d: {"connection_url": f"sqlite:///{d / 'm.db'}"}),
    # PostgreSQL hashes md5 and sha256 natively (one SQL query per resolution); the other one versions in Polars
    StoreConfig(
        "postgres-native-md5",
        "SQLAlchemyMetadataStore",
        _postgres(native=True),
        hash_algorithm="md5",
        needs_env=POSTGRES_URL_ENV,
        drop=drop_postgres_tables,
    ),
    StoreConfig(
        "postgres",
        "SQLAlchemyMetadataStore",
        _postgres(native=False),
        needs_env=POSTGRES_URL_ENV,
        drop=drop_postgres_tables,
    ),
)
BY_NAME = {c.name: c for c in CONFIGS}


def store_class(config: StoreConfig) -> type[metaxy.stores.MetadataStore] | None:
    """The store class, or ``None`` (with a printed note) when it is absent or its driver is missing."""
    if config.class_name != "InMemoryMetadataStore" and config.class_name not in metaxy.stores.LAZY_STORES:
        print(f"note: skipping {config.name}: {config.class_name} is not on this branch yet")
        return None
    if config.needs_env and not os.environ.get(config.needs_env):
        print(f"note: skipping {config.name}: set {config.needs_env} to a server's SQLAlchemy URL")
        return None
    try:
        cls = getattr(metaxy.stores, config.class_name)
    except (ImportError, MetaxyError) as exc:
        print(f"note: skipping {config.name}: {exc}")
        return None
    return cls  # type: ignore[no-any-return]


def make_store(config: StoreConfig, workdir: Path) -> metaxy.stores.MetadataStore:
    """A new store of ``config`` in ``workdir`` (xxhash64 like the anchor's Polars setups, unless noted)."""
    cls = store_class(config)
    assert cls is not None
    return cls(hash_algorithm=config.hash_algorithm, **config.kwargs(workdir))


def available(names: list[str]) -> list[StoreConfig]:
    """The requested configurations that can run on this branch."""
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown store(s) {unknown}; choose from {list(BY_NAME)}")
    return [BY_NAME[n] for n in names if store_class(BY_NAME[n]) is not None]

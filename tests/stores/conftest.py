"""The ``store`` fixture: every conformance test runs once per store factory.

Every backend of the table (:mod:`metaxy.stores.backends`) runs as its scratch store
(``StoreClass.scratch(tmp_path)``), so a new backend joins the suite with no edit here; the other
factories are variants (fallback chains, wrappers, native hashing) and stores on a server fixture.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import metaxy as mx
from metaxy.stores.backends import BACKENDS, WRAPPER_KINDS
from metaxy.testing import MockMetadataStore
from tests.servers import S3Server
from tests.stores.spark.session import skip_without_java

StoreFactory = Callable[..., mx.MetadataStore]


def scratch(class_name: str) -> StoreFactory:
    """The factory of a backend's scratch store, in the test's ``tmp_path``."""

    def factory(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
        store_class: type[mx.MetadataStore] = getattr(mx, class_name)
        return store_class.scratch(tmp_path, **kwargs)

    return factory


def memory_chain(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    prod = mx.InMemoryMetadataStore(name="prod", **{k: v for k, v in kwargs.items() if k.startswith("hash")})
    return mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod], **kwargs)


def delta_s3(tmp_path: Path, *, server: S3Server, **kwargs: Any) -> mx.MetadataStore:
    # one prefix per test (tmp_path is unique), so tests sharing the bucket never see each other
    uri = f"s3://{server.bucket}/{tmp_path.parent.name}/{tmp_path.name}"
    return mx.DeltaMetadataStore(uri, storage_options=server.storage_options(), **kwargs)


def delta_partitioned(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """Delta tables partitioned by feature version (the one column every write carries) and shard."""
    return mx.DeltaMetadataStore(
        tmp_path / "delta", partition_cols=["metaxy_feature_version"], shard_buckets=4, **kwargs
    )


def sqlite_chain(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """A chain mixing store types: SQLite in front of an in-memory production store."""
    hashing = {k: v for k, v in kwargs.items() if k.startswith("hash")}
    prod = mx.InMemoryMetadataStore(name="prod", **hashing)
    return mx.SQLAlchemyMetadataStore(
        f"sqlite:///{tmp_path / 'dev.db'}", name="dev", fallback_stores=[prod], **kwargs
    )


def postgres(tmp_path: Path, *, server: str, **kwargs: Any) -> mx.MetadataStore:
    # one server per session; every test gets its own table prefix (tables never collide)
    return mx.SQLAlchemyMetadataStore(server, table_prefix=_unique("t"), **kwargs)


def clickhouse(tmp_path: Path, *, server: Path, **kwargs: Any) -> mx.MetadataStore:
    # chdb allows one data directory per process: each test gets its own database in it
    return mx.ClickHouseMetadataStore(f"chdb://{server}", database=_unique("db"), **kwargs)


CLICKHOUSE_URL_ENV = "METAXY_TEST_CLICKHOUSE_URL"


def clickhouse_server(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """A real ClickHouse server through clickhouse-connect, named by ``METAXY_TEST_CLICKHOUSE_URL``."""
    return mx.ClickHouseMetadataStore(os.environ[CLICKHOUSE_URL_ENV], database=_unique("db"), **kwargs)


def duckdb_md5_native(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """DuckDB hashing in SQL: md5 unless the test asks for another algorithm."""
    kwargs.setdefault("hash_algorithm", "md5")
    return mx.DuckDBMetadataStore(tmp_path / "metaxy.duckdb", **kwargs)


def duckdb_over_memory(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """A fallback chain mixing store types: a DuckDB dev store reading through to in-memory prod."""
    prod = mx.InMemoryMetadataStore(name="prod", **{k: v for k, v in kwargs.items() if k.startswith("hash")})
    return mx.DuckDBMetadataStore(tmp_path / "dev.duckdb", name="dev", fallback_stores=[prod], **kwargs)


def duckdb_id_ranges(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """DuckDB resolving every feature of more than three rows one range of ids after the other."""
    return mx.DuckDBMetadataStore(tmp_path / "metaxy.duckdb", resolve_batch_rows=3, **kwargs)


def instrumented_cached_chain(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """The chain wrapped twice: metrics around a read cache, which must not change any behaviour."""
    return mx.InstrumentedMetadataStore(mx.CachedMetadataStore(memory_chain(tmp_path, **kwargs)))


def secure_encrypted_chain(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """The chain behind access checks (an admin) and encryption of a user column: no behaviour may change."""
    from metaxy.stores.wrappers.auth import Grant, Permission, RolesTable

    roles = RolesTable({"admin": [Grant(Permission.ADMIN, "*")]}, {"ci": ["admin"]})
    encrypted = mx.EncryptedMetadataStore(
        memory_chain(tmp_path, **kwargs), encryption_key=b"k" * 32, encrypted_columns=["text"]
    )
    return mx.SecureMetadataStore(encrypted, auth_backend=roles, principal="ci")


def mock(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """The shipped failure-injecting double, with no failure set: it must behave like any store."""
    return MockMetadataStore(**kwargs)


STORE_FACTORIES: dict[str, StoreFactory] = {
    # one scratch store per backend of the table, named by its kind ("sqlalchemy" is SQLite)
    **{b.kind: scratch(b.class_name) for b in BACKENDS if b.kind not in WRAPPER_KINDS},
    # chdb runs one data directory per process: the session's, with a database per test
    "clickhouse": clickhouse,
    "clickhouse-server": clickhouse_server,
    "delta-s3": delta_s3,
    "delta-partitioned": delta_partitioned,
    "memory-chain": memory_chain,
    "sqlite-chain": sqlite_chain,
    "postgres": postgres,
    "duckdb-md5-native": duckdb_md5_native,
    "duckdb-over-memory": duckdb_over_memory,
    "duckdb-id-ranges": duckdb_id_ranges,
    "instrumented-cached-chain": instrumented_cached_chain,
    "secure-encrypted-chain": secure_encrypted_chain,
    "mock": mock,
}


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}_"


#: factories that need a server: factory name -> fixture passed to the factory as ``server=``
SERVER_FIXTURES: dict[str, str] = {
    "delta-s3": "s3_server",
    "postgres": "postgres_url",
    "clickhouse": "chdb_path",
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    factory = STORE_FACTORIES[request.param]
    if request.param == "clickhouse-server" and not os.environ.get(CLICKHOUSE_URL_ENV):
        pytest.skip(f"no ClickHouse server: set {CLICKHOUSE_URL_ENV}=http://user:password@host:8123 to run")
    if request.param == "spark":
        skip_without_java()
    # servers start lazily, once per session, and only for the factories that need them
    fixture = SERVER_FIXTURES.get(request.param)
    extra = {"server": request.getfixturevalue(fixture)} if fixture else {}
    return lambda **kwargs: factory(tmp_path, **extra, **kwargs)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[mx.MetadataStore]:
    with store_factory() as opened:
        yield opened


# -- catalogs: every catalog test runs once per catalog factory (and per store where a store is used) --

CatalogFactory = Callable[[Path, pytest.FixtureRequest], mx.MaterializationCatalog]


def memory_catalog(tmp_path: Path, request: pytest.FixtureRequest) -> mx.MaterializationCatalog:
    return mx.InMemoryCatalog()


def sqlite_catalog(tmp_path: Path, request: pytest.FixtureRequest) -> mx.MaterializationCatalog:
    return mx.SQLiteCatalog(tmp_path / "catalog.db")


def postgres_catalog(tmp_path: Path, request: pytest.FixtureRequest) -> mx.MaterializationCatalog:
    # one server per session (and xdist worker); every test gets its own catalog table
    url = request.getfixturevalue("postgres_url")
    return mx.PostgresCatalog(url, table=f"catalog_{tmp_path.name.lower()}")


CATALOG_FACTORIES: dict[str, CatalogFactory] = {
    "memory": memory_catalog,
    "sqlite": sqlite_catalog,
    "postgres": postgres_catalog,
}


@pytest.fixture(params=sorted(CATALOG_FACTORIES))
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[mx.MaterializationCatalog]:
    with CATALOG_FACTORIES[request.param](tmp_path, request) as opened:
        yield opened


# -- Spark: one JVM per test process, and every Spark job takes a while. The default run covers each
# store operation on Spark once (these tests); the whole suite on Spark runs with METAXY_SPARK_FULL=1
# (`make test-spark`), shards, the digest and the filter fuzz on Spark among it.
SPARK_FULL_ENV = "METAXY_SPARK_FULL"
SPARK_QUICK = frozenset(
    {
        "test_write_then_read_round_trips_with_system_columns",
        "test_latest_row_wins_and_history_keeps_every_row",
        "test_filters_and_columns",
        "test_soft_delete_hides_rows_but_keeps_history",
        "test_hard_delete_removes_rows",
        "test_has_feature_and_list_features",
        "test_resolve_update_is_idempotent_and_field_level",
        "test_resolve_update_filters_restrict_the_increment",
        "test_lazy_increment_collects_to_the_same_result",
        "test_calculate_and_write_data_versions",
        "test_copy_metadata_between_stores",
        "test_re_expanding_a_parent_into_fewer_children_orphans_the_leftover",
        "test_an_empty_materialization_lets_downstream_resolve_to_an_empty_increment",
        "test_a_wider_integer_widens_the_stored_column",
        "test_new_columns_are_null_for_older_rows_and_left_out_columns_null_for_new_rows",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    full = bool(os.environ.get(SPARK_FULL_ENV))
    for item in items:
        callspec = getattr(item, "callspec", None)
        # a Spark case: the store parametrized as "spark" (store_factory, filled, name, ...)
        if callspec is None or not any(isinstance(v, str) and v == "spark" for v in callspec.params.values()):
            continue
        if getattr(item, "originalname", item.name) in SPARK_QUICK:
            continue
        item.add_marker(pytest.mark.slow)
        if not full:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"the whole suite on Spark runs with {SPARK_FULL_ENV}=1 (make test-spark)"
                )
            )

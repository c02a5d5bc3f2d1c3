"""The ``store`` fixture: every conformance test runs once per store factory.

Adding a store to the suite means adding one entry to ``STORE_FACTORIES``.
"""

from __future__ import annotations

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


STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": memory,
    "memory-chain": memory_chain,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    factory = STORE_FACTORIES[request.param]
    return lambda **kwargs: factory(tmp_path, **kwargs)


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

"""metaxy's pytest plugin: an isolated feature graph per test and ready-made stores as fixtures.

Installed with metaxy and loaded automatically through the ``pytest11`` entry point named ``metaxy``.
Opt out with ``pytest -p no:metaxy`` (or ``addopts = "-p no:metaxy"`` in your pytest configuration).

Fixtures:
    metaxy_graph (autouse): a fresh active :class:`~metaxy.FeatureGraph` for every test (seeded with the
        features defined at import time), so feature classes defined in one test never leak into another.
    empty_store: an open, empty :class:`~metaxy.InMemoryMetadataStore`.
    example_features: the example graph of :mod:`metaxy.testing.example`, defined in the test's graph.
    populated_store: an open in-memory store holding the example graph, fully materialized.
    multi_env_stores: ``{"dev", "staging", "prod"}`` in-memory stores chained dev → staging → prod.
    metaxy_store_factory: ``make(backend="memory", **kwargs)`` builds an open scratch store of any backend
        by its kind (``"memory"``, ``"duckdb"``, ``"delta"``, ``"sqlalchemy"`` (SQLite), ``"clickhouse"``
        (embedded chdb), ...) with its files in ``tmp_path``; closed after the test.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, cast

import pytest

import metaxy.stores
from metaxy.exceptions import StoreError
from metaxy.models import FeatureGraph
from metaxy.stores.backends import backend_named, store_kinds
from metaxy.stores.base import MetadataStore
from metaxy.stores.memory import InMemoryMetadataStore
from metaxy.testing.example import ExampleFeatures, define_example_features, materialize_example

StoreMaker = Callable[..., MetadataStore]


@pytest.fixture(autouse=True)
def metaxy_graph() -> Iterator[FeatureGraph]:
    """The test's own active feature graph: features defined in the test land here and vanish after it.

    It starts with the features of the graph active before the test (those your modules define at
    import time), so module-level feature classes keep working, also when named by key.
    """
    with _copy_of(FeatureGraph.get_active()).use() as active:
        yield active


def _copy_of(source: FeatureGraph) -> FeatureGraph:
    graph = FeatureGraph()
    for key in source.keys:
        feature = source.feature_class(key)
        graph.add_feature(feature if feature is not None else source.spec(key))
    return graph


@pytest.fixture
def empty_store() -> Iterator[InMemoryMetadataStore]:
    """An open, empty in-memory store."""
    with InMemoryMetadataStore(name="empty") as store:
        yield store


@pytest.fixture
def example_features(metaxy_graph: FeatureGraph) -> ExampleFeatures:
    """The example graph's classes (see :mod:`metaxy.testing.example`), defined in this test's graph."""
    return define_example_features()


@pytest.fixture
def populated_store(example_features: ExampleFeatures) -> Iterator[InMemoryMetadataStore]:
    """An open in-memory store with the example graph materialized: samples 1, 2, 3 in all four features."""
    with InMemoryMetadataStore(name="populated") as store:
        materialize_example(store, example_features)
        yield store


@pytest.fixture
def multi_env_stores() -> Iterator[dict[str, InMemoryMetadataStore]]:
    """Open in-memory stores where ``dev`` falls back to ``staging``, which falls back to ``prod``."""
    prod = InMemoryMetadataStore(name="prod")
    staging = InMemoryMetadataStore(name="staging", fallback_stores=[prod])
    dev = InMemoryMetadataStore(name="dev", fallback_stores=[staging])
    with dev:  # opening dev opens its whole fallback chain
        yield {"dev": dev, "staging": staging, "prod": prod}


@pytest.fixture
def metaxy_store_factory(tmp_path: Path) -> Iterator[StoreMaker]:
    """Build open stores by backend name, each in its own directory under ``tmp_path``.

    Every backend of :mod:`metaxy.stores.backends` is available by its kind; each store is its class's
    :meth:`~metaxy.stores.base.MetadataStore.scratch` store in a fresh directory.

    Example:
        >>> def test_roundtrip(metaxy_store_factory):
        ...     store = metaxy_store_factory("duckdb", hash_algorithm="xxhash64")
    """
    counter = itertools.count()
    with ExitStack() as opened:

        def make(backend: str = "memory", **kwargs: Any) -> MetadataStore:
            cls = _store_class(backend)
            root = tmp_path / f"metaxy-{backend}-{next(counter)}"
            root.mkdir()
            return opened.enter_context(cls.scratch(root, **kwargs))

        yield make


def _store_class(backend: str) -> type[MetadataStore]:
    """The store class of the backend kind ``backend``, from the backend table (imported on first use)."""
    row = backend_named(backend)
    if row is None:
        raise StoreError(
            f"metaxy_store_factory: unknown backend {backend!r}.",
            hint=f"Use one of: {', '.join(sorted(store_kinds()))}.",
        )
    return cast("type[MetadataStore]", getattr(metaxy.stores, row.class_name))

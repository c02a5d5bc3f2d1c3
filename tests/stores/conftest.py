"""The ``store`` fixture: every conformance test runs once per store factory.

Adding a store to the suite means adding one entry to ``STORE_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import metaxy as mx
from metaxy.testing import MockMetadataStore

StoreFactory = Callable[..., mx.MetadataStore]


def memory(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    return mx.InMemoryMetadataStore(**kwargs)


def memory_chain(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    prod = mx.InMemoryMetadataStore(name="prod", **{k: v for k, v in kwargs.items() if k.startswith("hash")})
    return mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod], **kwargs)


def instrumented_cached_chain(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """The chain wrapped twice: metrics around a read cache, which must not change any behaviour."""
    return mx.InstrumentedMetadataStore(mx.CachedMetadataStore(memory_chain(tmp_path, **kwargs)))


def mock(tmp_path: Path, **kwargs: Any) -> mx.MetadataStore:
    """The shipped failure-injecting double, with no failure set: it must behave like any store."""
    return MockMetadataStore(**kwargs)


STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": memory,
    "memory-chain": memory_chain,
    "instrumented-cached-chain": instrumented_cached_chain,
    "mock": mock,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    factory = STORE_FACTORIES[request.param]
    return lambda **kwargs: factory(tmp_path, **kwargs)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[mx.MetadataStore]:
    with store_factory() as opened:
        yield opened

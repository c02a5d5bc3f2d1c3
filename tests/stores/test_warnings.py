"""Warnings point at the caller's line, through wrappers too; the Polars fallback warns once per store and feature."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import LocalFilterWarning, MetaxyWarning, PolarsFallbackWarning
from metaxy.stores.base import MetadataStore
from tests.stores.graphs import video_graph, videos

pytest.importorskip("duckdb")

Wrap = Callable[[MetadataStore], MetadataStore]
WRAPPERS: dict[str, Wrap] = {
    "bare": lambda store: store,
    "cached": lambda store: mx.CachedMetadataStore(store),
    "instrumented": lambda store: mx.InstrumentedMetadataStore(store),
    "cached-instrumented": lambda store: mx.CachedMetadataStore(mx.InstrumentedMetadataStore(store)),
}


def _recorded(action: Callable[[], object]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [w for w in caught if issubclass(w.category, MetaxyWarning)]


def _dev_over_prod(tmp_path: Path, wrap: Wrap) -> tuple[MetadataStore, MetadataStore]:
    """The documented md5 dev -> prod setup: upstream rows only in prod, so dev cannot hash natively."""
    prod = mx.InMemoryMetadataStore(hash_algorithm="md5", name="prod")
    dev = mx.DuckDBMetadataStore(tmp_path / "dev.duckdb", hash_algorithm="md5", fallback_stores=[prod])
    return wrap(dev), prod


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_polars_fallback_warning_points_at_the_caller_once_per_store_and_feature(
    tmp_path: Path, wrapper: str
) -> None:
    g = video_graph()
    dev, prod = _dev_over_prod(tmp_path, WRAPPERS[wrapper])
    with dev:
        prod.write_metadata(g.video, videos([1, 2]))
        first = _recorded(lambda: dev.resolve_update(g.transcript))
        again = _recorded(lambda: [dev.resolve_update(g.transcript) for _ in range(3)])
    assert [w.category for w in first] == [PolarsFallbackWarning]
    assert first[0].filename == __file__
    assert again == []  # not once per call
    other, _ = _dev_over_prod(tmp_path / "other", WRAPPERS[wrapper])
    (tmp_path / "other").mkdir()
    with other:
        other.fallback_chain()[-1].write_metadata(g.video, videos([1]))
        assert [w.category for w in _recorded(lambda: other.resolve_update(g.transcript))] == [
            PolarsFallbackWarning
        ]  # another store warns on its own


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_local_filter_warning_points_at_the_caller(tmp_path: Path, wrapper: str) -> None:
    g = video_graph()
    store = WRAPPERS[wrapper](mx.DuckDBMetadataStore(tmp_path / "db.duckdb"))
    with store:
        store.write_metadata(g.video, videos([1, 2, 3]))
        caught = _recorded(
            lambda: store.read_metadata(g.video, filters=pl.col("path").str.contains("v[12]")).collect()
        )
    assert [w.category for w in caught] == [LocalFilterWarning]
    assert caught[0].filename == __file__

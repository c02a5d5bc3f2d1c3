"""Reads of a DuckDB store while another thread holds its connection (metaxy/stores/_duckdb_side_connections.py).

Polars collects a resolution's upstream reads side by side, each on a thread of its own; a read that
finds the store's connection taken runs on a connection of its own instead of queueing. These tests
hold the connection (the store's lock) on a thread of their own and read on another
(SQLite: tests/stores/sqlalchemy/test_sqlalchemy.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import metaxy as mx
from metaxy.exceptions import FeatureNotFoundError
from tests.stores._held import collected_within, lock_held
from tests.stores.graphs import video_graph, videos


@pytest.fixture
def store(tmp_path: Path) -> Iterator[mx.DuckDBMetadataStore]:
    video_graph()
    with mx.DuckDBMetadataStore(tmp_path / "a.duckdb") as opened:
        opened.write_metadata("video/raw", videos([1, 2, 3]))
        yield opened


def test_a_read_runs_while_another_thread_holds_the_store_s_connection(
    store: mx.DuckDBMetadataStore,
) -> None:
    lazy = store.read_metadata("video/raw")  # looks the table up now, on this thread
    with lock_held(store):
        ids = collected_within(lazy)["sample_uid"].to_list()
    assert ids == [1, 2, 3]


def test_the_queries_of_one_read_on_its_own_connection_all_see_the_same_rows(
    store: mx.DuckDBMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the read's first query (the bounds of its ids) and the next, another connection
    commits the deletion of every row: the read still returns the rows its first query saw."""
    table = store._quoted(mx.FeatureKey("video/raw"))
    database = store._con.sql("SELECT current_database()").fetchall()[0][0]
    first_query = store._bounds

    def bounds_then_delete(*args: Any, **kwargs: Any) -> Any:
        found = first_query(*args, **kwargs)
        other = store._con.cursor()  # a connection of its own, committing at once
        other.execute(f'USE "{database}"')
        other.execute(f"DELETE FROM {table}")
        other.close()
        return found

    monkeypatch.setattr(store, "_bounds", bounds_then_delete)
    lazy = store.read_metadata("video/raw")
    with lock_held(store):
        ids = collected_within(lazy)["sample_uid"].to_list()
    assert ids == [1, 2, 3]
    monkeypatch.undo()
    with pytest.raises(FeatureNotFoundError):  # the deletion was committed
        store.read_metadata("video/raw")


def test_a_closed_in_memory_store_closes_the_connections_its_reads_took() -> None:
    """An in-memory store keeps its own connection when closed (its data lives there); the
    connections its reads took are closed with it. (A file's store closes its connection, and DuckDB
    closes the connections made from one with it.)"""
    video_graph()
    store = mx.DuckDBMetadataStore()
    with store:
        store.write_metadata("video/raw", videos([1, 2, 3]))
        lazy = store.read_metadata("video/raw")
        with lock_held(store):
            collected_within(lazy)
        side = store._side
        assert side is not None
        made = list(side._made)
        assert made, "the read took no connection of its own"
    for con in made:
        with pytest.raises(Exception, match=r"(?i)closed"):
            con.execute("SELECT 1")
    with store:  # reopened: its rows are still there, read side by side again
        lazy = store.read_metadata("video/raw")
        with lock_held(store):
            assert collected_within(lazy).height == 3

"""Connections on which a DuckDB store's reads run while its own connection is busy.

A store talks to DuckDB through one connection, which runs one statement at a time, so its reads
queue behind each other's. Polars reads the upstreams of a resolution side by side, each on a thread
of its own, and DuckDB scans a table on one thread per row group (122,880 rows): reads of smaller
tables queued on one connection leave the other cores idle (two 100k-row roots of the wide benchmark
graph: 50 ms queued, 26 ms side by side). A read that finds the store's connection taken runs on one
of these instead, inside a read transaction, so its queries all see the same committed rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any


class SideConnections:
    """Idle connections to the database of ``con`` (``database``: its name, to ``USE``; None when a new
    connection's default is already it), made on first need and kept until :meth:`close`."""

    def __init__(self, con: Any, database: str | None) -> None:
        self._con = con
        self._database = database
        self._guard = threading.Lock()
        self._idle: list[Any] = []
        self._made: list[Any] = []
        self._closed = False

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A connection of its own for the calling thread, in a read transaction for the duration."""
        con = self._take()
        try:
            con.begin()
            yield con
            con.rollback()  # a read changed nothing: this only ends the transaction
        except BaseException:
            self._drop(con)  # in an unknown state: not kept for the next read
            raise
        self._give_back(con)

    def close(self) -> None:
        """Close every connection made (each idle by now: a store closes after its reads)."""
        with self._guard:
            made, self._made, self._idle, self._closed = self._made, [], [], True
        for con in made:
            with suppress(Exception):
                con.close()

    def _take(self) -> Any:
        with self._guard:
            if self._idle:
                return self._idle.pop()
        con = self._con.cursor()  # allowed while the connection runs a statement on another thread
        try:
            if self._database is not None:
                con.execute(f'USE "{self._database}"')
        except BaseException:
            con.close()
            raise
        with self._guard:
            self._made.append(con)
        return con

    def _give_back(self, con: Any) -> None:
        with self._guard:
            if not self._closed:
                self._idle.append(con)
                return
        with suppress(Exception):
            con.close()

    def _drop(self, con: Any) -> None:
        with self._guard:
            if con in self._made:
                self._made.remove(con)
        with suppress(Exception):
            con.close()

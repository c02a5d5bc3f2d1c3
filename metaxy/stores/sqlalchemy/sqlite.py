"""Reads from a SQLite file through ADBC (``adbc-driver-sqlite``) as Arrow columns.

SQLite's own Python driver returns one tuple per row and one Python object per value; at 1M rows that
was 8 of the 13 s of a resolution (docs/performance.md). ADBC hands back columns instead. SQLite keeps
no column types, so the driver infers them from the values; :func:`~metaxy.stores.sqlalchemy.schema.arrow_to_series`
then reads each column as the row path would. A read the driver cannot do (a column whose values
change type partway, a missing driver) returns ``None`` and the caller reads rows instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from metaxy.stores.sqlalchemy._adbc import query
from metaxy.stores.sqlalchemy.schema import arrow_to_series

_log = logging.getLogger(__name__)
_NAMED = re.compile(r":(p\d+)\b")


class SQLiteArrowReader:
    """Runs SELECTs on one SQLite file through ADBC, read-only, a connection per read."""

    def __init__(self, path: str, lock_timeout_s: float) -> None:
        # read-only: a read never creates the file or takes a write lock
        self._uri = f"{Path(path).absolute().as_uri()}?mode=ro"
        self._busy_ms = int(lock_timeout_s * 1000)
        #: called with each statement's text before it runs (as the PostgreSQL reader's)
        self.listeners: list[Callable[[str], None]] = []

    def fetch(self, sql: str, params: Mapping[str, Any], types: Mapping[str, Any]) -> pl.DataFrame | None:
        """The rows of ``sql`` (``:pN`` parameters), columns typed by ``types``; None to read rows instead."""
        for listener in self.listeners:
            listener(sql)
        try:
            table = self._query(sql, params)
        except Exception as exc:  # every driver failure falls back to the row path
            _log.debug("SQLite read through ADBC failed, reading rows instead: %s", exc)
            return None
        columns = [
            arrow_to_series(f.name, pl.Series(f.name, c), types.get(f.name))
            for f, c in zip(table.schema, table.columns, strict=True)
        ]
        return pl.DataFrame(columns)

    def _query(self, sql: str, params: Mapping[str, Any]) -> Any:
        import adbc_driver_sqlite
        from adbc_driver_manager import AdbcConnection

        # SQLite numbers named parameters in the order they first appear; ADBC binds by that number
        order = dict.fromkeys(_NAMED.findall(sql))
        with adbc_driver_sqlite.connect(self._uri) as database, AdbcConnection(database) as conn:
            query(conn, f"PRAGMA busy_timeout = {self._busy_ms}")
            return query(conn, sql, {name: params[name] for name in order})

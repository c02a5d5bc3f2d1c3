"""Bulk transfers with SQLite: reads through ADBC (``adbc-driver-sqlite``) as Arrow columns, writes as
rows Polars encoded, in chunks.

SQLite's own Python driver returns one tuple per row and one Python object per value; at 1M rows that
was 8 of the 13 s of a resolution (docs/performance-history.md). ADBC hands back columns instead. SQLite keeps
no column types, so the driver infers them from the values; :func:`~metaxy.stores.sqlalchemy.schema.arrow_to_series`
then reads each column as the row path would. A read the driver cannot do (a column whose values
change type partway, a missing driver) returns ``None`` and the caller reads rows instead.

Writes went through SQLAlchemy's ``insert`` with one dict per row, every value converted by its column
type in Python: 1M rows took 30 s and 3 GiB. :func:`insert_rows` encodes whole columns in Polars into
what SQLAlchemy would have stored and hands the driver tuples, a chunk at a time.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from metaxy.stores.sqlalchemy._adbc import query
from metaxy.stores.sqlalchemy.schema import arrow_to_series, json_text

if TYPE_CHECKING:
    import sqlalchemy

_log = logging.getLogger(__name__)
_NAMED = re.compile(r":(p\d+)\b")
#: rows per ``executemany`` of a write: bounds the Python tuples held at once (one transaction for all)
INSERT_CHUNK_ROWS = 50_000
#: SQLAlchemy's text for a SQLite DATETIME / DATE (always six fractional digits)
_DATETIME_TEXT = "%Y-%m-%d %H:%M:%S.%6f"
_DATE_TEXT = "%Y-%m-%d"
#: the driver's record batches: 64k rows, not 1,024 (1M rows of the wide benchmark root, ids, four
#: fields and two timestamps: 38 MiB less resident memory per read, time unchanged; a wide `stale`
#: resolution, three such reads at once: peak 1,245-1,301 -> 1,022-1,077 MiB)
_BATCH_OPTIONS = {"adbc.sqlite.query.batch_rows": "65536"}


class SQLiteArrowReader:
    """Runs SELECTs on one SQLite file through ADBC, read-only, a connection per read (or per
    :meth:`snapshot`)."""

    def __init__(self, path: str, lock_timeout_s: float) -> None:
        # read-only: a read never creates the file or takes a write lock
        self._uri = f"{Path(path).absolute().as_uri()}?mode=ro"
        self._busy_ms = int(lock_timeout_s * 1000)
        #: called with each statement's text before it runs (as the PostgreSQL reader's)
        self.listeners: list[Callable[[str], None]] = []
        #: the connection of the calling thread's snapshot, if it is in one
        self._snapshots = threading.local()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """The reads of the calling thread inside share one connection and one read transaction, so all
        see the file as the first found it: another process's write waits for the transaction to end
        (or, in WAL mode, goes ahead unseen). Other threads' reads keep connections of their own and
        still run side by side. A read falling back to rows runs outside the transaction."""
        if getattr(self._snapshots, "conn", None) is not None:
            yield  # already inside one
            return
        with ExitStack() as stack:
            conn = self._begin(stack)
            if conn is None:  # the reads then each take a connection (or fall back to rows)
                yield
                return
            self._snapshots.conn = conn
            try:
                yield
            finally:
                self._snapshots.conn = None
                # ends the read transaction (nothing to undo); closing the connection would as well
                with suppress(Exception):
                    query(conn, "ROLLBACK")

    def _begin(self, stack: ExitStack) -> Any | None:
        """A connection of ``stack`` in a read transaction; None if ADBC cannot give one."""
        try:
            conn = stack.enter_context(self._connection())
            query(conn, "BEGIN")
        except Exception as exc:
            _log.debug("SQLite snapshot through ADBC failed, reading without one: %s", exc)
            return None
        return conn

    def fetch(self, sql: str, params: Mapping[str, Any], types: Mapping[str, Any]) -> pl.DataFrame | None:
        """The rows of ``sql`` (``:pN`` parameters), columns typed by ``types``; None to read rows instead."""
        for listener in self.listeners:
            listener(sql)
        try:
            table = self._query(sql, params)
        except Exception as exc:  # every driver failure falls back to the row path
            _log.debug("SQLite read through ADBC failed, reading rows instead: %s", exc)
            return None
        return pl.DataFrame([arrow_to_series(c.name, c, types.get(c.name)) for c in table.iter_columns()])

    def _query(self, sql: str, params: Mapping[str, Any]) -> pl.DataFrame:
        # SQLite numbers named parameters in the order they first appear; ADBC binds by that number
        bound = {name: params[name] for name in dict.fromkeys(_NAMED.findall(sql))}
        conn = getattr(self._snapshots, "conn", None)
        if conn is not None:
            return query(conn, sql, bound, _BATCH_OPTIONS)
        with self._connection() as conn:
            return query(conn, sql, bound, _BATCH_OPTIONS)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        import adbc_driver_sqlite
        from adbc_driver_manager import AdbcConnection

        with adbc_driver_sqlite.connect(self._uri) as database, AdbcConnection(database) as conn:
            query(conn, f"PRAGMA busy_timeout = {self._busy_ms}")
            yield conn


def insert_rows(conn: sqlalchemy.Connection, table: str, df: pl.DataFrame) -> None:
    """Append ``df`` to ``table`` on the transaction's connection, stored as SQLAlchemy stores it.

    The same texts for timestamps (UTC, six fractional digits: they sort in time order) and dates,
    integers for booleans, JSON text for structs and lists (Polars' compact form: no spaces, UTF-8
    unescaped; SQLite's JSON functions and our reads decode both alike).
    """
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in df.columns)
    sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join('?' * df.width)})"
    encoded = df.select(_value(name, dtype) for name, dtype in df.schema.items())
    for chunk in encoded.iter_slices(INSERT_CHUNK_ROWS):
        conn.exec_driver_sql(sql, chunk.rows())


def _value(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if isinstance(dtype, pl.Struct | pl.List | pl.Array):
        return json_text(name, dtype)
    if isinstance(dtype, pl.Datetime):
        utc = column.dt.convert_time_zone("UTC") if dtype.time_zone is not None else column
        return utc.dt.strftime(_DATETIME_TEXT)
    if dtype == pl.Date:
        return column.dt.strftime(_DATE_TEXT)
    if dtype == pl.Boolean:
        return column.cast(pl.Int64)
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return column.cast(pl.String)
    return column

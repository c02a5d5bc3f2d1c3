"""One connection abstraction for ClickHouse, two implementations: embedded chdb and clickhouse-connect.

Both speak the same SQL and bind values server-side with ClickHouse's ``{name:Type}`` placeholders,
so no value is ever formatted into SQL text.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol
from urllib.parse import urlparse

import polars as pl

from metaxy.exceptions import StoreBackendError
from metaxy.stores._drivers import import_driver


class ClickHouseConnection(Protocol):
    """What the ClickHouse store needs from a connection."""

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None: ...

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame: ...

    def insert(self, database: str, table: str, df: pl.DataFrame) -> None: ...

    def close(self) -> None: ...


def connect(url: str) -> ClickHouseConnection:
    """``chdb:///dir`` or ``chdb://:memory:`` → embedded; ``http(s)://``, ``clickhouse://`` → a server."""
    if url.startswith("chdb://"):
        return ChdbConnection(url.removeprefix("chdb://") or ":memory:")
    return HttpConnection(url)


# one write = one block = one part, so a rejected row rejects the whole write (no partial rows)
_ONE_BLOCK = (
    " SETTINGS max_block_size = 1000000000, max_insert_block_size = 1000000000,"
    " min_insert_block_size_rows = 1000000000, min_insert_block_size_bytes = 0"
)

# chdb runs one embedded server per process, bound to one data directory: share it, count users
_CHDB_LOCK = threading.Lock()
_CHDB_SHARED: dict[str, tuple[Any, int]] = {}


class ChdbConnection:
    """In-process ClickHouse (chdb). Every store on the same directory shares one connection."""

    def __init__(self, path: str) -> None:
        chdb = import_driver("chdb", "clickhouse")
        self.path = path
        with _CHDB_LOCK:
            conn, users = _CHDB_SHARED.get(path, (None, 0))
            if conn is None:
                conn = _connect_chdb(chdb, path)
            _CHDB_SHARED[path] = (conn, users + 1)
        self._conn = conn
        self._closed = False

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with _CHDB_LOCK:
            self._conn.query(sql, "CSV", params=params or None)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        with _CHDB_LOCK:
            raw = self._conn.query(sql, "Arrow", params=params or None).bytes()
        return pl.read_ipc(raw)

    def insert(self, database: str, table: str, df: pl.DataFrame) -> None:
        from metaxy.stores.clickhouse.schema import quote

        arrow_rows = df.to_arrow()  # noqa: F841 - chdb's Python() table function finds this local by name
        columns = ", ".join(quote(c) for c in df.columns)
        sql = (
            f"INSERT INTO {quote(database)}.{quote(table)} ({columns}) SELECT {columns} FROM Python(arrow_rows)"
            + _ONE_BLOCK
        )
        with _CHDB_LOCK:
            try:
                self._conn.query(sql, "CSV")
            except RuntimeError as exc:  # ClickHouse rejected the block: nothing of it was stored
                raise StoreBackendError(
                    f"ClickHouse rejected the write to {database}.{table}, so nothing was written: "
                    f"{str(exc).splitlines()[0]}",
                    hint="Fix the rows (or the table's constraints) and write again.",
                ) from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _CHDB_LOCK:
            conn, users = _CHDB_SHARED[self.path]
            if users > 1:
                _CHDB_SHARED[self.path] = (conn, users - 1)
                return
            del _CHDB_SHARED[self.path]
            conn.close()


def _connect_chdb(chdb: Any, path: str) -> Any:
    try:
        return chdb.connect(path)
    except RuntimeError as exc:
        other = ", ".join(sorted(_CHDB_SHARED)) or "another directory"
        raise StoreBackendError(
            f"Cannot open embedded ClickHouse at {path!r}: {exc}",
            hint=f"chdb runs one data directory per process (already open: {other}); "
            "use that directory and separate stores with database=.",
        ) from exc


class HttpConnection:
    """A ClickHouse server through clickhouse-connect (HTTP)."""

    def __init__(self, url: str) -> None:
        driver = import_driver("clickhouse_connect", "clickhouse")
        parsed = urlparse(url)
        secure = parsed.scheme in ("https", "clickhouses")
        self._client = driver.get_client(
            host=parsed.hostname or "localhost",
            port=parsed.port or (8443 if secure else 8123),
            username=parsed.username or "default",
            password=parsed.password or "",
            secure=secure,
        )

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._client.command(sql, parameters=params or None)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        table = self._client.query_arrow(sql, parameters=params or None)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def insert(self, database: str, table: str, df: pl.DataFrame) -> None:
        self._client.insert_arrow(table, df.to_arrow(), database=database)

    def close(self) -> None:
        self._client.close()

"""One connection abstraction for ClickHouse, two implementations: embedded chdb and clickhouse-connect.

Both speak the same SQL and bind values server-side with ClickHouse's ``{name:Type}`` placeholders,
so no value is ever formatted into SQL text.
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import polars as pl

from metaxy.exceptions import StoreBackendError
from metaxy.stores._drivers import import_driver
from metaxy.stores._errors import backend_error, first_line, translated


class ClickHouseConnection(Protocol):
    """What the ClickHouse store needs from a connection."""

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None: ...

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame: ...

    def insert(self, database: str, table: str, df: pl.DataFrame) -> None: ...

    def close(self) -> None: ...


def connect(url: str, *, where: str = "clickhouse") -> ClickHouseConnection:
    """``chdb:///dir`` or ``chdb://:memory:`` → embedded; ``http(s)://``, ``clickhouse://`` → a server.

    Every call into either driver goes through :meth:`_Translating._translated`, the one place where
    ClickHouse's exceptions become :class:`~metaxy.exceptions.StoreBackendError`.
    """
    if url.startswith("chdb://"):
        return ChdbConnection(url.removeprefix("chdb://") or ":memory:", where=where)
    return HttpConnection(url, where=where)


class _Translating:
    where = "clickhouse"

    def _translated(self, action: str, sql: str = "") -> translated:
        shown = f" The statement was: {sql[:500]}" if sql else ""
        return translated(
            self.where,
            f"ClickHouse {action}",
            hint="Check the filters, the columns and the connection." + shown,
            drivers=("chdb", "clickhouse_connect", "urllib3", "requests"),
        )


# one write = one block = one part, so a rejected row rejects the whole write (no partial rows)
_ONE_BLOCK = (
    " SETTINGS max_block_size = 1000000000, max_insert_block_size = 1000000000,"
    " min_insert_block_size_rows = 1000000000, min_insert_block_size_bytes = 0"
)

# chdb runs one embedded server per process, bound to one data directory: share it, count users
_CHDB_LOCK = threading.Lock()
_CHDB_SHARED: dict[str, tuple[Any, int]] = {}

#: an insert of at least this much Arrow data leaves chdb's allocator (jemalloc) holding several times
#: as much in freed pages, which it gives back to the system over the next few seconds; the connection
#: asks for them at once, so what runs next (a resolution, a model) does not start on top of them.
#: 1M rows of the benchmark's simple root: the process held 1169 MiB after the write without it, 740 MiB
#: with it (the purge took ~23 ms), ~428 MiB a few seconds later either way
PURGE_AFTER_BYTES = 32 * 2**20


def running_chdb_path() -> str | None:
    """The data directory (or ``:memory:``) of the chdb this process runs, or None when none is open."""
    with _CHDB_LOCK:
        return next(iter(_CHDB_SHARED), None)


class ChdbConnection(_Translating):
    """In-process ClickHouse (chdb). Every store on the same directory shares one connection."""

    #: False once chdb refused ``SYSTEM JEMALLOC PURGE`` (a build without jemalloc): not asked again
    purges: bool = True

    def __init__(self, path: str, *, where: str = "clickhouse") -> None:
        chdb = import_driver("chdb", "clickhouse")
        self.path = path
        self.where = where
        with _CHDB_LOCK:
            conn, users = _CHDB_SHARED.get(path, (None, 0))
            if conn is None:
                conn = _connect_chdb(chdb, path)
            _CHDB_SHARED[path] = (conn, users + 1)
        self._conn = conn
        self._closed = False

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with _CHDB_LOCK, self._translated("statement", sql):
            self._conn.query(sql, "CSV", params=_escaped(params))

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        with _CHDB_LOCK, self._translated("query", sql):
            raw = self._conn.query(sql, "Arrow", params=_escaped(params)).bytes()
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
            if df.estimated_size() >= PURGE_AFTER_BYTES:
                self._purge_freed_memory()

    def _purge_freed_memory(self) -> None:
        """Give the pages chdb's allocator freed back to the system now (see :data:`PURGE_AFTER_BYTES`)."""
        if not ChdbConnection.purges:
            return
        try:
            self._conn.query("SYSTEM JEMALLOC PURGE", "CSV")
        except RuntimeError:  # built without jemalloc: the memory goes back as the allocator decides
            ChdbConnection.purges = False

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


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _escaped(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Parameters as chdb needs them: it parses string values in ClickHouse's escaped text format."""
    if not params:
        return None
    return {k: v.translate(_ESCAPES) if isinstance(v, str) else v for k, v in params.items()}


def _connect_chdb(chdb: Any, path: str) -> Any:
    try:
        return chdb.connect(path)
    except RuntimeError as exc:
        raise _chdb_open_error(path, exc) from exc


def _chdb_open_error(path: str, exc: RuntimeError) -> StoreBackendError:
    """Say why chdb refused ``path``: this process has another directory open, or another process has it."""
    others = sorted(p for p in _CHDB_SHARED if p != path)
    if others:
        return StoreBackendError(
            f"Cannot open embedded ClickHouse at {path!r}: this process already runs chdb on {', '.join(others)}.",
            hint="chdb runs one data directory per process: use that directory and separate stores with database=.",
        )
    holder = _chdb_lock_holder(path)
    if holder is not None:
        return StoreBackendError(
            f"Cannot open embedded ClickHouse at {path!r}: another process ({holder}) has it open.",
            hint="chdb lets one process at a time open a data directory: close the other process's store, "
            "or use a ClickHouse server (http://...) for shared access.",
            transient=True,
        )
    return StoreBackendError(
        f"Cannot open embedded ClickHouse at {path!r}: {first_line(exc)}",
        hint="Check that the path is a writable directory (or use chdb://:memory:).",
    )


def _chdb_lock_holder(path: str) -> str | None:
    """Who holds the ``status`` lock of a chdb data directory (``PID n``), or None when nobody does."""
    status = Path(path) / "status"
    if path == ":memory:" or not status.is_file():
        return None
    with status.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            text = status.read_text(errors="replace")
            pid = next(
                (line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("PID:")), "?"
            )
            return f"PID {pid}"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


class HttpConnection(_Translating):
    """A ClickHouse server through clickhouse-connect (HTTP)."""

    def __init__(self, url: str, *, where: str = "clickhouse") -> None:
        driver = import_driver("clickhouse_connect", "clickhouse")
        self.where = where
        parsed = urlparse(url)
        secure = parsed.scheme in ("https", "clickhouses")
        host, port = parsed.hostname or "localhost", parsed.port or (8443 if secure else 8123)
        try:
            self._client = driver.get_client(
                host=host,
                port=port,
                username=parsed.username or "default",
                password=parsed.password or "",
                secure=secure,
            )
        except Exception as exc:
            raise backend_error(
                where,
                f"connecting to ClickHouse at {host}:{port}",
                exc,
                hint="Check the connection URL (http(s)://user:password@host:port) and that the server is up.",
            ) from exc

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._translated("statement", sql):
            self._client.command(sql, parameters=params or None)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        with self._translated("query", sql):
            table = self._client.query_arrow(sql, parameters=params or None)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def insert(self, database: str, table: str, df: pl.DataFrame) -> None:
        with self._translated(f"write to {database}.{table} (nothing was written)"):
            self._client.insert_arrow(table, df.to_arrow(), database=database)

    def close(self) -> None:
        self._client.close()

"""Bulk transfers with PostgreSQL: reads through ADBC as Arrow columns, writes as CSV through ``COPY``.

Both replace per-row Python work (psycopg's ``fetchall`` and ``write_row``) that took most of the time
of a large read or write (docs/performance-history.md, "SQL servers").
"""

from __future__ import annotations

import atexit
import io
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import polars as pl

from metaxy.exceptions import ConfigError
from metaxy.stores.sqlalchemy._adbc import query, statement
from metaxy.stores.sqlalchemy.schema import decode_json, json_text

if TYPE_CHECKING:
    import sqlalchemy

#: session settings of every connection to PostgreSQL unless the store is given others (see docs/stores.md)
DEFAULT_SETTINGS: Mapping[str, str] = {
    # sorts and hashes of a resolution over millions of rows stay in memory instead of spilling to disk
    "work_mem": "256MB",
    # compiling the resolution query took longer than running it (seconds at 1M rows)
    "jit": "off",
}
#: rows per CSV chunk handed to COPY (bounds the text held in memory at once)
COPY_CHUNK_ROWS = 200_000
#: a write of at least this many rows refreshes the table's planner statistics (ANALYZE) before commit
ANALYZE_ROWS = 50_000

#: what ``pg_export_snapshot()`` returns (spliced into ``SET TRANSACTION SNAPSHOT``, which takes no parameter)
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")
_PLACEHOLDER = re.compile(r"%\((p\d+)\)s")
#: strings written into a statement's text as they are (see :func:`positional`)
_PLAIN = re.compile(r"[A-Za-z0-9_-]{0,128}")


def settings_sql(settings: Mapping[str, str]) -> list[str]:
    """``SET`` statements for ``settings`` (names checked: they are spliced into SQL text)."""
    statements = []
    for name, value in settings.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
            raise ConfigError(
                f"postgres_settings: {name!r} is not a PostgreSQL setting name.",
                hint='Pass setting names as PostgreSQL spells them, e.g. {"work_mem": "256MB"}.',
            )
        quoted = str(value).replace("'", "''")
        statements.append(f"SET {name} = '{quoted}'")
    return statements


def positional(sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """psycopg's ``%(pN)s`` placeholders as ADBC's ``$N``, or as literals where the value is plain.

    Plain values are integers, booleans and strings of at most 128 ASCII letters, digits, ``_`` and
    ``-`` (feature versions, for one): their literal holds nothing SQL reads as syntax (no quote,
    backslash, dollar or comment). Everything else stays a bound parameter. ADBC runs a statement
    without parameters through ``COPY ... TO STDOUT`` in binary and one with parameters as a prepared
    statement read row by row, which takes twice as long for a million rows (0.68 against 0.35 s):
    a resolution's reads compare feature versions only, and now go through ``COPY``.

    A bound float is cast to ``double precision``: without the cast the server would type the
    placeholder from its context (``$1`` beside a BIGINT column is BIGINT) and refuse the value;
    psycopg sends the type with the value likewise. Strings stay untyped (bound or literal), so the
    server reads them as the column's type (a date, a timestamp).
    """
    order: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        value = params[name]
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int):
            return f"({value})::bigint"
        if isinstance(value, str) and _PLAIN.fullmatch(value):
            return f"'{value}'"
        if name not in order:
            order.append(name)
        number = order.index(name) + 1
        return f"${number}::double precision" if type(value) is float else f"${number}"

    text = _PLACEHOLDER.sub(replace, sql)
    return text, [params[name] for name in order]


class ArrowReader:
    """Runs SELECTs on PostgreSQL through ADBC, returning Polars frames (column-wise, no Python rows).

    Connections are kept for reuse (one per thread using the store at once) and closed with the store.
    They run in autocommit mode (ADBC's default), so an idle connection holds no lock or snapshot. The
    driver manager's low-level API is used: its DB-API module imports ``pyarrow.dataset`` and pandas
    (seconds on a loaded machine, on every process's first read). The ADBC database they are made
    from is shared by the process's readers of the same server (see :func:`_shared_database`).
    """

    def __init__(self, url: sqlalchemy.URL, settings: Mapping[str, str]) -> None:
        self._uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._settings = settings_sql(settings)
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pid = os.getpid()
        #: called with each statement's text before it runs (SQLAlchemy's ``before_cursor_execute`` sees
        #: only the statements of its own connections)
        self.listeners: list[Callable[[str], None]] = []

    def fetch(self, sql: str, params: Mapping[str, Any]) -> pl.DataFrame:
        with self._connection() as conn:
            return _to_polars(self._query(conn, *positional(sql, params)))

    def fetch_parts(self, parts: Sequence[tuple[str, Mapping[str, Any]]]) -> pl.DataFrame:
        """The rows of several SELECTs, concatenated in order: each runs on a connection of its own,
        side by side, and all in one snapshot, so together they see the rows committed at one moment
        as one statement would (the first connection exports its snapshot, the others take it, as
        ``pg_dump --jobs`` does; see :mod:`._ctid_parts`)."""
        statements = [positional(sql, params) for sql, params in parts]
        with ExitStack() as stack:
            conns = [stack.enter_context(self._connection()) for _ in statements]
            for conn in conns:
                _run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = str(query(conns[0], "SELECT pg_export_snapshot() AS id").item())
            if not _SNAPSHOT_ID.fullmatch(snapshot):
                raise ValueError(f"PostgreSQL exported a snapshot id of an unknown form: {snapshot!r}")
            for conn in conns[1:]:
                _run(conn, f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            with ThreadPoolExecutor(len(conns) - 1, thread_name_prefix="metaxy-pg-part") as pool:
                later = [
                    pool.submit(self._query, c, *s) for c, s in zip(conns[1:], statements[1:], strict=True)
                ]
                frames = [self._query(conns[0], *statements[0]), *(f.result() for f in later)]
            for conn in conns:
                _run(conn, "ROLLBACK")  # the parts changed nothing: this only ends their transaction
        # decoded together: a JSON column of a part without rows would decode to a struct of no fields
        return _to_polars(pl.concat(frames, how="vertical", rechunk=False))

    def _query(self, conn: Any, text: str, values: list[Any]) -> pl.DataFrame:
        """The Arrow result of ``text`` on ``conn``, as the driver returns it (see :func:`_to_polars`)."""
        for listener in self.listeners:
            listener(text)
        return query(conn, text, {f"p{i}": v for i, v in enumerate(values)})

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if os.getpid() != self._pid:  # a forked child must not share the parent's sockets
            self._idle, self._pid = queue.SimpleQueue(), os.getpid()
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            conn.close()  # its state is unknown (a half-read result, a broken socket)
            raise
        self._idle.put(conn)

    def _connect(self) -> Any:
        from adbc_driver_manager import AdbcConnection

        with _DATABASES_LOCK:
            conn = AdbcConnection(_shared_database(self._uri))
        for setting in self._settings:
            _run(conn, setting)
        return conn

    def close(self) -> None:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            if os.getpid() == self._pid:
                conn.close()


def _run(conn: Any, sql: str) -> None:
    """Run a statement that returns no rows."""
    with statement(conn, sql) as handle:
        handle.execute_update()


#: this process's ADBC databases, by server URL (see :func:`_shared_database`)
_DATABASES: dict[tuple[int, str], Any] = {}
_DATABASES_LOCK = threading.Lock()


def _shared_database(uri: str) -> Any:
    """The ADBC database of ``uri`` in this process, made on first use (hold ``_DATABASES_LOCK``).

    Making one reads the server's whole type catalog, every table's row type included: 50 ms of an
    empty database, 110-150 ms with 300 tables, on each store's first read when each store made its
    own. It holds no connection to the server (connections are made from it), so it is kept for the
    life of the process. A type created on the server afterwards is unknown to it; the stores' tables
    use built-in types only.
    """
    key = (os.getpid(), uri)  # a forked child makes its own
    database = _DATABASES.get(key)
    if database is None:
        import adbc_driver_postgresql

        database = _DATABASES[key] = adbc_driver_postgresql.connect(uri)
    return database


@atexit.register
def _close_databases() -> None:
    with _DATABASES_LOCK:
        for (pid, _), database in list(_DATABASES.items()):
            if pid == os.getpid():
                database.close()
        _DATABASES.clear()


#: Polars' type of Arrow extension columns such as ``arrow.json`` (``()``, matching nothing, on a Polars
#: release before extension types)
_EXTENSION: Any = getattr(pl, "Extension", ())


def _to_polars(table: pl.DataFrame) -> pl.DataFrame:
    """An Arrow result as Polars: JSON columns decoded to structs, integers and floats widened to 64 bits."""
    columns: list[pl.Series] = []
    for series in table.iter_columns():
        json_text = isinstance(series.dtype, _EXTENSION)  # arrow.json (json, jsonb)
        if json_text:
            series = series.ext.storage()
        if json_text or (series.dtype == pl.String and series.name.endswith("_by_field")):
            series = decode_json(series)
        elif series.dtype.is_integer():
            series = series.cast(pl.Int64)
        elif series.dtype.is_float():
            series = series.cast(pl.Float64)
        columns.append(series)
    return pl.DataFrame(columns)


def copy_statement(table: str, columns: list[str]) -> Any:
    """``COPY table (columns) FROM STDIN`` reading CSV whose unquoted ``\\N`` is NULL."""
    from psycopg import sql

    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, NULL '\\N')").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )


def csv_chunks(df: pl.DataFrame) -> Iterator[bytes]:
    """``df`` as CSV for :func:`copy_statement`: strings quoted (so ``"\\N"`` stays a string, ``""``
    stays empty), nulls bare ``\\N``, structs and lists as JSON, binary as ``\\x`` hex."""
    encoded = df.with_columns(_csv_value(name, dtype) for name, dtype in df.schema.items())
    for chunk in encoded.iter_slices(COPY_CHUNK_ROWS):
        buffer = io.BytesIO()
        chunk.write_csv(buffer, include_header=False, null_value="\\N", quote_style="non_numeric")
        yield buffer.getvalue()


def _csv_value(name: str, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Struct | pl.List | pl.Array):
        return json_text(name, dtype)
    if dtype == pl.Binary:
        return pl.concat_str(pl.lit("\\x"), pl.col(name).bin.encode("hex")).alias(name)
    return pl.col(name)

"""``DuckDBMetadataStore``: one DuckDB table per feature, in a file or in memory, with native md5/sha256.

Concurrency is DuckDB's: one process may open a database file for writing, and then no other process
can open it; several processes may open it together with ``read_only=True`` (while no writer has it).
A lock file beside the database enforces the same from before connecting until after closing
(:mod:`metaxy.stores._file_lock`: DuckDB's own lock alone lost appends of processes taking turns).
A file is attached to a DuckDB instance the process keeps (:mod:`metaxy.stores._duckdb_instances`),
not opened in an instance of its own: opening and closing a store take ~3 ms instead of 25-40.
xxhash is never computed by DuckDB (that needs an extension download); the Polars engine does it.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, Unpack

import polars as pl
import sqlglot.expressions as exp

from metaxy.exceptions import FilterPushdownError, StoreBackendError
from metaxy.models.keys import FeatureKey
from metaxy.stores import _duckdb_instances as instances
from metaxy.stores import _file_lock as file_lock
from metaxy.stores._arrow_stream import ArrowStream
from metaxy.stores._drivers import import_driver
from metaxy.stores._duckdb_side_connections import SideConnections
from metaxy.stores._errors import backend_error, first_line, translated
from metaxy.stores._naming import keys_from_tables
from metaxy.stores._ranges import check_batch_rows
from metaxy.stores._sql import SQLMetadataStore
from metaxy.stores.base import StoreOptions
from metaxy.stores.duckdb.schema import DuckDBDialect, plan_evolution, storage_type
from metaxy.stores.schema_rule import DType
from metaxy.versioning.sql import to_sql_condition
from metaxy.versioning.sql.engine import ident

MEMORY = ":memory:"
#: 10M samples of the wide benchmark graph, two ranges in flight: peak RSS 2.6 -> 1.9-2.1 GiB and ~10%
#: faster (1M rows per range: 1.75 GiB, no faster than one read)
DEFAULT_RESOLVE_BATCH_ROWS = 2_000_000
#: DuckDB's string compressions (1.4 and later), switched off by ``compress_strings=False``
_STRING_COMPRESSION = "fsst,dictionary,dict_fsst"


class DuckDBMetadataStore(SQLMetadataStore):
    """Feature metadata in a DuckDB database file (or ``":memory:"``).

    Args:
        db_path: the database file, created on first write; ``":memory:"`` keeps data for the life of
            the store object (across ``open``/``close``).
        read_only: open the file read-only; every write raises ``ReadOnlyStoreError`` first.
        table_prefix: prepended to every table name (docs/concepts.md).
        compress_strings: let DuckDB compress string columns (FSST, dictionaries) in what this store
            writes. On by default. Version strings are near-random, so compression buys size at a
            high price in time; ``False`` trades the one for the other (1M rows of the four-field
            benchmark root: a 2.7x larger file, writes 1.9x faster, resolutions ~10% faster). Files
            are readable by any DuckDB either way; blocks already written keep their compression.
        resolve_batch_rows: a resolution reading more rows than this from one table runs one range
            of ids after the other, holding one range of upstream rows at a time, when the feature
            and its upstreams share one integer id column (docs/stores.md#resolving-in-id-ranges).
            ``None`` reads everything at once.
        **store_kwargs: ``fallback_stores``, ``hash_algorithm``, ``versioning_engine``, ...

    Example:
        >>> import metaxy as mx
        >>> with mx.DuckDBMetadataStore(":memory:", hash_algorithm="md5") as store:
        ...     store.supports_native_versioning()
        True
    """

    kind = "duckdb"
    dialect = DuckDBDialect()
    fetches_lazily = True
    row_number_column = "rowid"
    path_options = ("db_path",)

    def __init__(
        self,
        db_path: str | Path = MEMORY,
        *,
        table_prefix: str = "",
        compress_strings: bool = True,
        resolve_batch_rows: int | None = DEFAULT_RESOLVE_BATCH_ROWS,
        **store_kwargs: Unpack[StoreOptions],
    ) -> None:
        self.db_path = str(db_path)
        self.compress_strings = compress_strings
        self.resolve_batch_rows = check_batch_rows(resolve_batch_rows, where=type(self).__name__)
        self._con: Any = None
        self._side: SideConnections | None = None  # for reads while the connection is busy
        self._side_con = threading.local()  # the connection of the calling thread's read, if any
        self._closer: weakref.finalize[Any, Any] | None = None  # gives the file back, once
        self._quoted_names: dict[FeatureKey, str] = {}
        super().__init__(table_prefix=table_prefix, **store_kwargs)

    @classmethod
    def scratch(cls, folder: Path, **options: Unpack[StoreOptions]) -> Self:
        """A new store in the DuckDB file ``folder/metaxy.duckdb``."""
        return cls(Path(folder) / "metaxy.duckdb", **options)

    # -- lifecycle ------------------------------------------------------------------------------

    def _open_backend(self) -> None:
        database = None if self._con is not None else self._connect()  # an in-memory one survives close()
        self._side = SideConnections(self._con, database)

    def _connect(self) -> str | None:
        """Connect to the database; returns its name on the host when a new connection must ``USE`` it."""
        duckdb = import_driver("duckdb", "duckdb")
        if self.db_path == MEMORY:
            with self._opening(duckdb):
                self._con = instances.new_instance(duckdb, self._settings())
            return None
        self._check_path()
        lock = self._hold_file()
        try:  # a store that failed to open holds neither the file nor a connection
            with self._opening(duckdb):
                attached = instances.attach(
                    duckdb, self.db_path, read_only=self.read_only, settings=self._settings()
                )
        except BaseException:
            file_lock.release(lock)
            raise
        self._con = attached.con
        # a store dropped unclosed gives its file back when it is collected, as closing would
        self._closer = weakref.finalize(self, _give_back, attached, lock)
        return attached.database

    @contextmanager
    def _opening(self, duckdb: Any) -> Iterator[None]:
        """DuckDB's and the attachment's errors on opening, said as ours."""
        try:
            yield
        except instances.AttachedElsewhere as exc:
            raise StoreBackendError(
                f"{self.name}: {self.db_path} cannot be opened: {exc}.",
                hint="DuckDB attaches a file once per process: open the stores of one file with the "
                "same compress_strings, and the read-only ones after (or without) a writer, not before.",
            ) from None
        except duckdb.Error as exc:
            raise self._open_error(exc) from exc

    def _settings(self) -> dict[str, str]:
        """DuckDB's instance-wide settings this store needs (stores of one instance share them)."""
        return {"disabled_compression_methods": "" if self.compress_strings else _STRING_COMPRESSION}

    def _check_path(self) -> None:
        """Say what is wrong with ``db_path`` before DuckDB does (its messages all read like a lock)."""
        path = Path(self.db_path)
        problem, hint = "", ""
        if path.is_dir():
            problem, hint = "is a directory", "Point db_path at a file inside it, e.g. <dir>/metaxy.duckdb."
        elif not path.parent.is_dir():
            problem = f"cannot be created: its directory {path.parent} does not exist"
            hint = (
                "Create the directory first, or fix db_path (relative paths start at the working directory)."
            )
        elif self.read_only and not path.exists():
            problem = "does not exist, so it cannot be opened read-only"
            hint = "Write to it with a writable store first, or check the path."
        if problem:
            raise StoreBackendError(f"{self.name}: {self.db_path} {problem}.", hint=hint)

    def _hold_file(self) -> str | None:
        """Keep other processes from the file until it is closed (see :mod:`metaxy.stores._file_lock`);
        the lock for :func:`~metaxy.stores._file_lock.release`."""
        try:
            return file_lock.hold(self.db_path, shared=self.read_only)
        except file_lock.HeldElsewhere as exc:
            raise self._held_error(f"its lock file {exc} is taken") from None

    def _held_error(self, text: str) -> StoreBackendError:
        return StoreBackendError(
            f"{self.name}: {self.db_path} is held by another process: {text}",
            hint="DuckDB allows one writing process, or many read-only ones: close the other "
            "process's store, or open this one with read_only=True while no writer has it.",
            transient=True,
        )

    def _open_error(self, exc: Exception) -> StoreBackendError:
        text = first_line(exc)
        if "lock" in text.lower():
            return self._held_error(text)
        if "not a valid DuckDB database" in text:
            return StoreBackendError(
                f"{self.name}: {self.db_path} exists but is not a DuckDB database file.",
                hint="Point db_path at a DuckDB file (or a path that does not exist yet, to create one).",
            )
        return backend_error(
            self.name, f"opening {self.db_path}", exc, hint="Check db_path and its permissions."
        )

    @property
    def location(self) -> str:
        return self.db_path

    def exists(self) -> bool:
        # a directory or another file in the way exists too: opening then says what is wrong with it
        return self.db_path == MEMORY or Path(self.db_path).exists()

    def _close_backend(self) -> None:
        if self._side is not None:  # an in-memory store's connection stays open, and so would they
            self._side.close()
            self._side = None
        if self._closer is not None:
            try:
                self._closer()
            finally:
                self._closer, self._con = None, None

    # -- SQL hooks ------------------------------------------------------------------------------

    def _execute(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run one statement (named parameters bound) to completion and return its rows."""
        with self._lock, self._translated("running SQL", sql):
            rows: list[Any] = self._con.execute(sql, params or None).fetchall()
            return rows

    def _translated(self, action: str, sql: str = "") -> translated:
        """The one place DuckDB's exceptions become ours (the hint shows the statement)."""
        shown = f"; the statement was:\n{sql[:2000]}" if sql else ""
        hint = "Check that filters name stored columns" + shown
        return translated(self.name, f"DuckDB {action}", hint=hint, drivers=("duckdb",))

    def _table_columns(self, key: FeatureKey) -> list[str] | None:
        # binding a relation reads the catalog only: ~25x faster than querying information_schema
        duckdb = import_driver("duckdb", "duckdb")
        with self._lock:
            try:
                return list(self._con.sql(f"SELECT * FROM {self._quoted(key)}").columns)
            except duckdb.CatalogException:
                return None

    def _fetch(self, query: exp.Expr) -> pl.DataFrame:
        sql, params = self.dialect.render_bound(query)
        side = self._read_connection()
        if side is not None:  # inside a read on a connection of its own (see _reading_together)
            with self._translated("query", sql):
                return self._fetch_sql(sql, params, side)
        with self._lock, self._translated("query", sql):
            return self._fetch_sql(sql, params)

    @contextmanager
    def _reading_together(self) -> Iterator[None]:
        """The queries of one read, all seeing the same rows: on the store's connection under its lock
        (no write of this store comes between them) or, while another thread holds that, on a
        connection of their own in one read transaction (see ``_duckdb_side_connections``): Polars
        reads a resolution's upstreams side by side, and they then run so."""
        if self._read_connection() is not None:  # inside such a read already
            yield
            return
        if self._lock.acquire(blocking=False):
            try:
                yield
            finally:
                self._lock.release()
            return
        side = self._side
        if side is None:  # closed: the store's connection says so once the lock is free
            with self._lock:
                yield
            return
        with side.transaction() as con:
            self._side_con.con = con
            try:
                yield
            finally:
                self._side_con.con = None

    def _read_connection(self) -> Any:
        """The connection of the calling thread's read on a connection of its own, or None."""
        return getattr(self._side_con, "con", None)

    def _fetch_sql(self, sql: str, params: dict[str, Any] | None = None, con: Any = None) -> pl.DataFrame:
        """Run ``sql`` on ``con`` (default: the store's connection, whose lock the caller holds)."""
        con = self._con if con is None else con
        frame = pl.DataFrame(con.sql(sql, params=params or None))  # the query runs now
        # TIMESTAMPTZ comes back in the session time zone; metaxy timestamps are UTC
        zoned = [
            pl.col(c).dt.convert_time_zone("UTC")
            for c, t in frame.schema.items()
            if isinstance(t, pl.Datetime) and t.time_zone not in (None, "UTC")
        ]
        return frame.with_columns(zoned) if zoned else frame

    def _quoted(self, key: FeatureKey) -> str:
        """``key``'s table name quoted, rendered once per key (each catalog lookup names it)."""
        quoted = self._quoted_names.get(key)
        if quoted is None:
            quoted = self._quoted_names[key] = self.render(exp.Table(this=ident(self.table_name(key))))
        return quoted

    # -- writes ---------------------------------------------------------------------------------

    def _storage_type(self, dtype: DType) -> pl.DataType | str:
        return storage_type(dtype)

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        table = self._quoted(key)
        with (
            self._lock,
            self._translated("write (nothing was written)"),
            self._registered(df) as view,
            self._transaction(),
        ):
            self._evolve_and_insert(key, table, view, df.schema)

    @contextmanager
    def _registered(self, frame: pl.DataFrame) -> Iterator[str]:
        """``frame`` as an Arrow view of the connection, by a fresh name, for the duration.

        Strings go over as Arrow string views, Polars' own layout, so no copy of them is made (1M wide
        root rows: the process holds 404 instead of 572 MiB after the write, the copies' memory kept by
        the allocator).
        """
        view = f"__mx_frame_{uuid.uuid4().hex}"
        self._con.register(view, ArrowStream(frame))
        try:
            yield view
        finally:
            self._con.unregister(view)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Everything inside commits together, or is rolled back."""
        self._con.begin()
        try:
            yield
            self._con.commit()
        except BaseException:
            self._con.rollback()
            raise

    def _evolve_and_insert(self, key: FeatureKey, table: str, view: str, schema: pl.Schema) -> None:
        source = self.render(exp.Table(this=ident(view)))
        if self._table_columns(key) is None:
            self._con.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}").fetchall()
            return
        stored = self._fetch_sql(f"SELECT * FROM {table} LIMIT 0").schema
        for name, dtype in plan_evolution(self._where(key), stored, schema).items():
            column = self.render(exp.column(ident(name)))
            sql_type = self._duckdb_type(dtype)
            if name in stored:
                self._con.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {sql_type}").fetchall()
            else:
                self._con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}").fetchall()
        self._con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {source}").fetchall()

    def _duckdb_type(self, dtype: Any) -> str:
        """DuckDB's spelling of a Polars dtype, asked from DuckDB itself (via an empty Arrow frame)."""
        with self._registered(pl.DataFrame(schema={"c": dtype})) as probe:
            return str(self._con.execute(f'DESCRIBE SELECT "c" FROM "{probe}"').fetchall()[0][1])

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        if self._table_columns(key) is None:
            return
        table = self._quoted(key)
        if predicate is None:
            self._execute(f"DROP TABLE {table}")
            return
        try:
            condition = to_sql_condition(predicate, self.dialect)
        except FilterPushdownError as exc:
            raise FilterPushdownError(
                f"{self._where(key)}: hard delete needs a filter DuckDB can run. {exc.message}", hint=exc.hint
            ) from exc
        where, params = self.dialect.render_bound(condition)
        self._execute(f"DELETE FROM {table} WHERE {where}", params)

    def _delete_keyed(self, key: FeatureKey, keys: pl.DataFrame) -> None:
        """One ``DELETE ... USING`` joined against the keys (registered as an Arrow view)."""
        if self._table_columns(key) is None or keys.height == 0:
            return
        table = self._quoted(key)
        match = " AND ".join(
            f"{table}.{self._column(c)} IS NOT DISTINCT FROM k.{self._column(c)}" for c in keys.columns
        )
        with self._lock, self._translated("delete (nothing was deleted)"), self._registered(keys) as view:
            self._con.execute(f'DELETE FROM {table} USING "{view}" AS k WHERE {match}').fetchall()

    def _replace_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        """The new table built from ``frame`` replaces the old one in one transaction."""
        table = self._quoted(key)
        with (
            self._lock,
            self._translated("rewrite (nothing was changed)"),
            self._registered(frame) as view,
            self._transaction(),
        ):
            self._con.execute(f'CREATE OR REPLACE TABLE {table} AS SELECT * FROM "{view}"').fetchall()

    def _reclaim_space(self, key: FeatureKey) -> bool:
        """``CHECKPOINT``: deleted rows' blocks are written out of the database file."""
        if self.db_path == MEMORY:
            return False
        self._execute("CHECKPOINT")
        return True

    def _column(self, name: str) -> str:
        return self.render(exp.column(ident(name)))

    def _list_keys(self) -> list[FeatureKey]:
        rows = self._execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_catalog = current_database() AND table_schema = current_schema()"
        )
        names = sorted(r[0] for r in rows)
        owners = self._claims.owners()
        return [key for key in keys_from_tables(names, self.table_prefix, owners) if self._has_rows(key)]


def _give_back(attached: instances.Attached, lock: str | None) -> None:
    """Detach a store's file and release its lock file (on close, or when an unclosed store is collected;
    closing the store's connection closes the connections made from it)."""
    try:
        instances.detach(attached)
    finally:
        file_lock.release(lock)

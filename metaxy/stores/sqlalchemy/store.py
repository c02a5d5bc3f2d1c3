"""``SQLAlchemyMetadataStore``: metadata in PostgreSQL (psycopg 3) or SQLite through SQLAlchemy Core.

Layout (docs/concepts.md): one table per feature, ``<table_prefix><key parts joined by __>``. ``*_by_field``
struct columns are JSONB on PostgreSQL and JSON text on SQLite; timestamps are ``TIMESTAMPTZ`` on
PostgreSQL and UTC text on SQLite. Reads push filters down; an unfiltered read of the latest rows fetches
the history and picks them in Polars (faster than a window in the database), a filtered one ranks them
with a window. Structs decode back from JSON (the fields of ``*_by_field`` columns are extracted by the
database). Appends run in one transaction.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, Unpack

import polars as pl
import sqlglot.expressions as exp

from metaxy.constants import FEATURE_VERSION
from metaxy.exceptions import FilterPushdownError, SchemaError, StoreBackendError
from metaxy.models.keys import FeatureKey
from metaxy.stores._drivers import import_driver, installed
from metaxy.stores._errors import first_line, translated
from metaxy.stores._naming import keys_from_tables
from metaxy.stores._sql import LazyFetch, SQLMetadataStore, with_feature_version
from metaxy.stores.base import StoreOptions
from metaxy.stores.schema_rule import DType
from metaxy.stores.sqlalchemy import schema as types
from metaxy.stores.sqlalchemy._by_field import field_by_field, read_versions, stored_fields
from metaxy.stores.sqlalchemy._ctid_parts import in_parts, part_count, plain_table, size_query
from metaxy.stores.sqlalchemy.postgres import (
    ANALYZE_ROWS,
    DEFAULT_SETTINGS,
    ArrowReader,
    copy_statement,
    csv_chunks,
    settings_sql,
)
from metaxy.stores.sqlalchemy.schema import SQLITE_HEX_TO_INT, SQLITE_MD5, PostgresDialect, SQLiteDialect
from metaxy.stores.sqlalchemy.sqlite import INSERT_CHUNK_ROWS, SQLiteArrowReader, insert_rows
from metaxy.versioning.sql import SQLDialect, SQLTable, to_sql_condition
from metaxy.versioning.sql.dialects import bound
from metaxy.versioning.sql.engine import col

if TYPE_CHECKING:
    import sqlalchemy

#: seconds a SQLite writer waits for another process's write lock before giving up (transient)
SQLITE_LOCK_TIMEOUT = 60.0
#: execution option marking a connection's transaction as a write
_WRITE_OPTION = "metaxy_write"


#: modules whose exceptions are the database's answers (translated into StoreBackendError)
DRIVERS = (
    "sqlalchemy",
    "psycopg",
    "psycopg2",
    "psycopg_pool",
    "sqlite3",
    "pg8000",
    "pymysql",
    "MySQLdb",
    "adbc_driver_manager",
    "adbc_driver_postgresql",
)


class SQLAlchemyMetadataStore(SQLMetadataStore):
    """A store over a SQLAlchemy URL; tested on PostgreSQL (``postgresql+psycopg://``) and SQLite.

    Args:
        connection_url: SQLAlchemy URL, e.g. ``"sqlite:///meta.db"`` or
            ``"postgresql+psycopg://user@host/db"``.
        table_prefix: prepended to every feature table name.
        enable_native_computation: let PostgreSQL hash md5/sha256 in SQL (otherwise Polars hashes;
            SQLite has no hash functions and always uses Polars).
        postgres_settings: PostgreSQL session settings of every connection (``SET name = value``);
            default ``{"work_mem": "256MB", "jit": "off"}`` (docs/stores.md#postgresql-settings).
        **store_kwargs: ``fallback_stores``, ``hash_algorithm``, ... (see :class:`MetadataStore`).

    Example:
        >>> import metaxy as mx
        >>> with mx.SQLAlchemyMetadataStore("sqlite://") as store:
        ...     store.list_features()
        []
    """

    kind = "sqlalchemy"
    requires_plain_column_names = True
    picks_latest_locally = True
    path_options = ("connection_url",)

    def __init__(
        self,
        connection_url: str,
        *,
        table_prefix: str = "metaxy_",
        enable_native_computation: bool = False,
        postgres_settings: Mapping[str, str] | None = None,
        **store_kwargs: Unpack[StoreOptions],
    ) -> None:
        self.connection_url = connection_url
        self.enable_native_computation = enable_native_computation
        self.postgres_settings = dict(DEFAULT_SETTINGS if postgres_settings is None else postgres_settings)
        settings_sql(self.postgres_settings)  # a bad name fails here, not on the first connection
        self._reader: ArrowReader | None = None
        self._sqlite_reader: SQLiteArrowReader | None = None
        # the dialect must be known before the base class checks versioning_engine="native"
        self.dialect: SQLDialect = _dialect_for(connection_url)  # type: ignore[misc]
        self._engine: sqlalchemy.Engine | None = None
        self._tables: dict[str, sqlalchemy.Table] = {}
        store_kwargs.setdefault("name", f"sqlalchemy({_redact(connection_url)})")
        super().__init__(table_prefix=table_prefix, **store_kwargs)
        if self.is_sqlite:
            # latest reads pick from ids and timestamps, then read the picked rows by rowid ranges
            self.row_number_column = "rowid"
        if self.is_postgres:
            self.max_column_name_bytes = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are truncated

    # -- lifecycle ------------------------------------------------------------------------------

    def _open_backend(self) -> None:
        if self._engine is not None:  # an in-memory SQLite database survives close()
            return
        sa = _sa()
        kwargs: dict[str, Any] = {}
        sqlite_file = _sqlite_file(self.connection_url)
        if _is_sqlite_memory(self.connection_url):
            # one shared connection, otherwise every checkout would see a fresh empty database
            kwargs["poolclass"] = sa.pool.StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        elif self.read_only and sqlite_file is not None:  # SQLite would create a missing file
            kwargs["creator"] = _read_only_sqlite(sqlite_file)
        elif sqlite_file is not None:
            # wait for another process's write lock instead of failing after the driver's 5 s
            kwargs["connect_args"] = {"timeout": SQLITE_LOCK_TIMEOUT}
        try:
            engine = sa.create_engine(self.connection_url, **kwargs)
        except Exception as exc:  # ArgumentError (not a URL), NoSuchModuleError (unknown database), ...
            raise StoreBackendError(
                f"{self.name}: {_redact(self.connection_url)!r} is not a usable SQLAlchemy URL: {first_line(exc)}",
                hint='Write it as "dialect+driver://user@host/db", e.g. "postgresql+psycopg://..." or '
                '"sqlite:///path/meta.db".',
            ) from exc
        if self.is_postgres:
            _apply_settings(engine, self.postgres_settings)
        if sqlite_file is None and not _is_sqlite_memory(self.connection_url):
            with self._translated("connecting"):  # an unreachable server fails here, not mid-operation
                engine.connect().close()
        else:  # SQLite connects lazily (a read-only store on a missing file still refuses writes first)
            _check_sqlite_directory(self.name, engine.url)
        if self.is_sqlite:
            _own_sqlite_transactions(engine)
        # Arrow reads through ADBC when its driver is installed; rows through the DB-API driver otherwise
        if self.is_postgres and installed("adbc_driver_postgresql"):
            self._reader = ArrowReader(engine.url, self.postgres_settings)
        elif sqlite_file is not None and installed("adbc_driver_sqlite"):
            self._sqlite_reader = SQLiteArrowReader(sqlite_file, SQLITE_LOCK_TIMEOUT)
        self._engine = engine
        self._tables = {}

    def _translated(self, action: str) -> translated:
        """The one place where SQLAlchemy's and the database driver's exceptions become ours."""
        hint = "Check the connection URL, that the database is up, and the filters and columns used."
        if self.is_sqlite and action == "connecting":
            hint = "Check that the database file's directory exists and is writable."
        return translated(self.name, action, hint=hint, drivers=DRIVERS)

    @classmethod
    def scratch(cls, folder: Path, **options: Unpack[StoreOptions]) -> Self:
        """A new store in the SQLite file ``folder/metaxy.db`` (PostgreSQL needs a server: pass its URL)."""
        return cls(f"sqlite:///{Path(folder) / 'metaxy.db'}", **options)

    @property
    def location(self) -> str:
        return _redact(self.connection_url)

    def exists(self) -> bool:
        """SQLite: the file exists. A server: ``False`` when it answers and holds no table of this store
        (by ``table_prefix``); ``True`` when it cannot tell (an unreachable server, a URL it cannot use),
        so that opening the store reports what is wrong. Nothing is created."""
        path = _sqlite_file(self.connection_url)
        if path is not None:
            return Path(path).is_file()
        if _is_sqlite_memory(self.connection_url):
            return True
        return self._server_has_tables()

    def _server_has_tables(self) -> bool:
        sa = _sa()
        engine = self._engine
        if engine is None:  # a throwaway connection: the store stays closed
            try:
                engine = sa.create_engine(
                    self.connection_url, poolclass=sa.pool.NullPool, connect_args=_PROBE_CONNECT_ARGS
                )
            except Exception:
                return True  # not a usable URL: opening the store says what is wrong with it
        try:
            names = sa.inspect(engine).get_table_names()
        except Exception:
            return True  # unreachable or refused: opening the store reports the connection error
        finally:
            if engine is not self._engine:
                engine.dispose()
        return any(name.startswith(self.table_prefix) for name in names)

    def supports_concurrent_writers(self) -> bool:
        return not self.is_in_process()  # PostgreSQL transactions; SQLite file writers take turns on its lock

    def reads_side_by_side(self) -> bool:
        """SQLite answers a query on one core, each read on a connection of its own (1M samples, the
        benchmark's simple ``stale``: 3.7 → 2.9 s). PostgreSQL's reads keep both cores busy already
        (the server's output and the client's parse): reading beside gained nothing there."""
        return not self.is_postgres

    def is_in_process(self) -> bool:
        return _is_sqlite_memory(self.connection_url)

    def _close_backend(self) -> None:
        if self._engine is None or _is_sqlite_memory(self.connection_url):
            return  # in-memory SQLite: the data lives as long as the store object, like ":memory:" stores
        self._engine.dispose()
        self._engine = None
        self._tables = {}
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._sqlite_reader = None

    @property
    def engine(self) -> sqlalchemy.Engine:
        """The SQLAlchemy engine (only while the store is open)."""
        self.require_open()
        assert self._engine is not None
        return self._engine

    @property
    def is_postgres(self) -> bool:
        return isinstance(self.dialect, PostgresDialect)

    @property
    def is_sqlite(self) -> bool:
        """A SQLite database: a file or in memory."""
        return self.connection_url.startswith("sqlite")

    def supports_native_versioning(self) -> bool:
        return self.enable_native_computation and super().supports_native_versioning()

    # -- SQL hooks ------------------------------------------------------------------------------

    def _table_columns(self, key: FeatureKey) -> list[str] | None:
        table = self._table(key)
        return None if table is None else [c.name for c in table.columns]

    def _text_columns(self, key: FeatureKey) -> tuple[str, ...]:
        table = self._table(key)
        return () if table is None else tuple(c.name for c in table.columns if types.family(c.type) == "text")

    def _fetch(self, query: exp.Expr) -> pl.DataFrame:
        if self._reader is not None:  # PostgreSQL with ADBC installed: Arrow columns, no Python rows
            with self._translated("query"):
                return self._reader.fetch(*self.dialect.render_bound(query))
        known = {c.name: c.type for t in self._tables.values() for c in t.columns}
        if self._sqlite_reader is not None:  # a SQLite file with ADBC installed: Arrow columns
            frame = self._sqlite_reader.fetch(*self._bound(query), known)
            if frame is not None:
                return frame
        with self._translated("query"), self._one_thread(), self.engine.connect() as conn:
            if self.is_postgres:
                _jsonb_as_text(conn)
            result = conn.exec_driver_sql(*self._bound(query))
            names = list(result.keys())
            # the driver's tuples, without SQLAlchemy's row objects; transposed to columns in C by zip
            columns = list(zip(*result.cursor.fetchall(), strict=True)) or [()] * len(names)
            result.close()
        return pl.DataFrame(
            [types.to_series(n, list(c), known.get(n)) for n, c in zip(names, columns, strict=True)]
        )

    def _fetch_many(self, query: exp.Select) -> pl.DataFrame:
        """As ``_fetch``, for a read of a table's rows: on PostgreSQL a large table's is read in parts,
        side by side (:mod:`._ctid_parts`)."""
        table = plain_table(query)
        if self._reader is None or table is None:
            return self._fetch(query)
        size = self._fetch(size_query(table)).row(0, named=True)
        blocks = (size["size"] or 0) // size["block"]
        count = part_count(blocks, size["version"])
        if count < 2:
            return self._fetch(query)
        parts = [self.dialect.render_bound(part) for part in in_parts(query, blocks, count)]
        with self._translated("query"):
            return self._reader.fetch_parts(parts)

    def _reading_together(self) -> AbstractContextManager[object]:
        """A SQLite file read through ADBC: one read transaction, which also keeps out the writes of
        other processes, and leaves other threads' reads running side by side (the store's lock
        would queue them)."""
        if self._sqlite_reader is not None:
            return self._sqlite_reader.snapshot()
        return super()._reading_together()

    def _lazy_fetch(self, key: FeatureKey, table: SQLTable) -> LazyFetch | None:
        """Lazily, when every JSON column of the read is a ``*_by_field`` struct whose fields are known
        (:mod:`._by_field`): then every column's type is known before the rows are fetched. Rows of a
        feature version written after the fields were looked up are left out of a read spanning versions
        (their fields may differ), as if it had run a moment earlier."""
        stored = self._table(key)
        if stored is None:
            return None
        json_columns = [c for c in table.columns if _is_json(stored, c)]
        if not all(c.endswith("_by_field") for c in json_columns):
            return None  # a user struct or list: its fields are known only from its rows
        structs, versions = self._by_field_structs(key, table)
        if not structs or set(structs) != set(json_columns):
            return None

        def fetch(select: exp.Select, columns: list[str]) -> pl.DataFrame:
            if len(versions) != 1 or FEATURE_VERSION not in columns or len(columns) == 1:
                return self._fetch_by_field(select, columns, structs)
            # every row read holds the one version seen (the read keeps to it): one value, not a string per
            # row (read beside other columns, which count the rows)
            frame = self._fetch_by_field(select, [c for c in columns if c != FEATURE_VERSION], structs)
            return with_feature_version(frame, columns, versions[0])

        types = {c: pl.Struct(dict.fromkeys(f, pl.String)) for c, f in structs.items()}
        if table.feature_version is not None:
            return LazyFetch(fetch, types)
        seen = self.dialect.is_in(col(FEATURE_VERSION), [bound(v) for v in versions])
        return LazyFetch(fetch, types, (seen,))

    def _fetch_rows(self, key: FeatureKey, query: exp.Select, table: SQLTable) -> pl.DataFrame:
        """As ``_fetch``; ``*_by_field`` columns come field by field (:mod:`._by_field`) where their
        fields are known, and a JSON column with no value in the result gets its stored type (JSON
        carries none: decoded from zero rows a struct would have no fields, and ``*_by_field`` lookups
        downstream would fail)."""
        structs, versions = self._by_field_structs(key, table)
        frame = None
        if structs:
            frame = self._fetch_by_field(query, table.columns, structs)
            if table.feature_version is None and not frame.get_column(FEATURE_VERSION).is_in(versions).all():
                frame = None  # rows of a version written since its fields were looked up: decode them
        if frame is None:
            frame = self._fetch_many(query)
        stored = self._table(key)
        typed = [
            pl.lit(None, self._json_type(stored, name)).alias(name)
            for name in frame.columns
            if stored is not None
            and name in stored.c
            and _is_json(stored, name)
            and frame[name].null_count() == frame.height
        ]
        return frame.with_columns(typed) if typed else frame

    def _fetch_by_field(
        self, query: exp.Select, columns: Sequence[str], structs: dict[str, list[str]]
    ) -> pl.DataFrame:
        """``columns`` of ``query``'s rows, the structs of ``structs`` fetched field by field.

        The fields come alone, without a NULL flag per struct: each column fetched costs ADBC's parse
        of PostgreSQL's stream ~0.1 s per million rows. Only when a row's every field is null (a NULL
        struct, or a struct of nulls) are the rows fetched again, with the flags.
        """
        projection, packed, unclear = field_by_field(self.dialect, columns, structs, null_flags=False)
        frame = self._fetch_many(query.select(*projection, append=False))
        if frame.select(unclear.any()).item():
            del frame
            projection, packed, _ = field_by_field(self.dialect, columns, structs, null_flags=True)
            frame = self._fetch_many(query.select(*projection, append=False))
        return frame.select(packed)

    def _by_field_structs(self, key: FeatureKey, table: SQLTable) -> tuple[dict[str, list[str]], list[str]]:
        """The ``*_by_field`` JSON columns of ``table``'s read the database can extract field by field,
        with their fields, and the feature versions the read spans (empty when none can)."""
        stored = self._table(key)
        if stored is None or FEATURE_VERSION not in stored.c:
            return {}, []
        if not (self.is_postgres or self.is_sqlite):
            return {}, []  # other databases' JSON extraction may not return text
        columns = [c for c in table.columns if c.endswith("_by_field") and _is_json(stored, c)]
        versions = read_versions(self._fetch, table) if columns else None
        if not versions:
            return {}, []
        fields = {c: stored_fields(self._fetch, table, c, versions) for c in columns}
        return {c: f for c, f in fields.items() if f}, versions

    def _ids_repeat_likely(self, table: SQLTable, column: str) -> bool | None:
        """Guesses from what the database answers without a scan (the aggregate they spare scans
        every row: ~0.1 s per million on PostgreSQL, ~0.25 s on SQLite).

        - PostgreSQL: what ``pg_stats`` (ANALYZE's estimate, which a large write refreshes) says of
          ``column``. It keeps the number of distinct values as a fraction of the rows, negated, when
          it grows with them: -1 when every value in its sample of 30,000 rows was unique (False: a
          table written once), -0.5 after a full rewrite of a feature (True below nine in ten).
        - SQLite: True when the table's rowids span more than ten rows for every nine integers between
          the ids of its first and last rows (a history written in id order, then rewritten whole:
          two rows per id); None otherwise. Ids written in another order make it a coin toss, which
          costs time only.
        """
        if self.is_sqlite:
            return True if self._sqlite_ends_say_ids_repeat(table, column) else None
        if self.is_postgres:
            return self._postgres_statistics_on_ids(table, column)
        return None

    def _postgres_statistics_on_ids(self, table: SQLTable, column: str) -> bool | None:
        schema = bound(table.schema) if table.schema else exp.func("current_schema")
        stats = (
            exp.select(col("n_distinct"))
            .from_("pg_stats")
            .where(
                exp.EQ(this=col("schemaname"), expression=schema),
                exp.EQ(this=col("tablename"), expression=bound(table.name)),
                exp.EQ(this=col("attname"), expression=bound(column)),
            )
        )
        estimate = self._fetch(stats).get_column("n_distinct").to_list()
        if len(estimate) != 1 or estimate[0] is None:
            return None
        if estimate[0] == -1:
            return False
        return True if -_MOSTLY_UNIQUE < estimate[0] < 0 else None

    def _sqlite_ends_say_ids_repeat(self, table: SQLTable, column: str) -> bool:
        rowid, ref = col("rowid"), table.ref()

        def at_end(value: exp.Expr, *, last: bool) -> exp.Expr:
            """``value`` of the first or last row: a seek down SQLite's rowid tree, not a scan."""
            row = exp.Ordered(this=rowid, desc=last)
            return exp.select(value).from_(ref).order_by(row).limit(1).subquery()

        ends = exp.select(
            *[
                exp.alias_(at_end(value, last=last), f"{name}_{'last' if last else 'first'}")
                for name, value in (("rowid", rowid), ("id", col(column)))
                for last in (False, True)
            ]
        )
        out = self._fetch(ends)
        if (
            not all(dtype.is_integer() for dtype in out.schema.values())
            or out.null_count().sum_horizontal()[0]
        ):
            return False  # an empty table, or ids that are not integers
        rows = out["rowid_last"][0] - out["rowid_first"][0] + 1
        ids = abs(out["id_last"][0] - out["id_first"][0]) + 1
        return bool(rows * _MOSTLY_UNIQUE > ids)

    def _stored_schema(self, key: FeatureKey) -> pl.Schema | None:
        table = self._table(key)
        if table is None:
            return None
        return pl.Schema(
            {
                c.name: self._json_type(table, c.name)
                if types.family(c.type) == "json"
                else types.to_series(c.name, [], c.type).dtype
                for c in table.columns
            }
        )

    def _json_type(self, table: sqlalchemy.Table, column: str) -> pl.DataType:
        """The Polars type of a JSON column, decoded from one stored value (Null when all are null)."""
        sa = _sa()
        query = sa.select(table.c[column]).where(table.c[column].is_not(None)).limit(1)
        with self._one_thread(), self.engine.connect() as conn:
            if self.is_postgres:
                _jsonb_as_text(conn)
            row = conn.execute(query).first()
        if row is None:
            return pl.Null()
        return types.to_series(column, [row[0]], table.c[column].type).dtype

    def _storage_type(self, dtype: DType) -> pl.DataType | str:
        return types.storage_type(dtype)

    # -- writes ---------------------------------------------------------------------------------

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        if not self.is_postgres:
            _refuse_nan(df, where=self._where(key))
        with (
            translated(
                self._where(key),
                "the write (nothing was written)",
                hint="Fix the rows (or the table's constraints) and write again.",
                drivers=DRIVERS,
            ),
            self._writing() as conn,  # one transaction: the table (if new) and all rows, or nothing
        ):
            table = self._ensure_table(conn, key, df)
            self._insert(conn, table, df)
        # known to the other threads only once committed: before, their connections cannot see it
        self._tables[table.name] = table

    def _insert(self, conn: sqlalchemy.Connection, table: sqlalchemy.Table, df: pl.DataFrame) -> None:
        """Append ``df``'s rows in the transaction of ``conn``, in bulk where the database allows."""
        if not df.height:
            return
        if self.is_postgres:
            _copy_into(conn, table.name, df)  # COPY: an order of magnitude faster than INSERTs
            if df.height >= ANALYZE_ROWS:  # plan the next reads with the table's real size
                conn.exec_driver_sql(f"ANALYZE {conn.dialect.identifier_preparer.quote(table.name)}")
        elif self.is_sqlite:
            insert_rows(conn, table.name, df)
        else:  # another database: SQLAlchemy converts each value, a chunk of rows at a time
            for chunk in df.iter_slices(INSERT_CHUNK_ROWS):
                conn.execute(_sa().insert(table), types.to_rows(chunk))

    def _replace_rows(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        """Drop the table, create it with ``frame``'s columns and insert the rows: one transaction."""
        name = self.table_name(key)
        wanted = {c: types.sql_type(frame.schema[c], postgres=self.is_postgres) for c in frame.columns}
        self._tables.pop(name, None)
        with (
            translated(
                self._where(key),
                "the rewrite (nothing was changed)",
                hint="Check the database is reachable and writable, then run the migration again.",
                drivers=DRIVERS,
            ),
            self._writing() as conn,
        ):
            self._lock_table_definition(conn, name)
            old = _reflect(conn, name)
            if old is not None:
                old.drop(conn)
            table = self._create_table(conn, name, wanted)
            self._insert(conn, table, frame)
        self._tables[name] = table

    def _one_thread(self) -> AbstractContextManager[object]:
        """In-memory SQLite is one connection shared by every thread using the store: one thread at a
        time (their transactions would interleave on it, and SQLite then closes the database)."""
        return self._lock if _is_sqlite_memory(self.connection_url) else nullcontext()

    @contextmanager
    def _writing(self) -> Iterator[sqlalchemy.Connection]:
        """A write transaction; on SQLite it takes the database's write lock at BEGIN.

        Taking the lock up front (``BEGIN IMMEDIATE``) means a writer waits for another one to finish
        instead of failing when it upgrades a read lock, and its check-then-create of a table cannot
        interleave with another writer's.
        """
        with self._one_thread(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        table = self._table(key)
        if table is None:
            return
        with self._translated("hard delete"), self._writing() as conn:
            if predicate is None:
                table.drop(conn)
                self._tables.pop(table.name, None)
                return
            try:
                condition = to_sql_condition(predicate, self.dialect)
            except (
                FilterPushdownError
            ):  # not expressible in SQL: evaluate locally, rewrite in this transaction
                self._rewrite_without(conn, table, predicate)
                return
            target = exp.Table(this=exp.to_identifier(table.name, quoted=True))
            conn.exec_driver_sql(*self._bound(exp.delete(target, where=condition)))

    def _bound(self, query: exp.Expr) -> tuple[str, dict[str, Any]]:
        """SQL text and parameters for the driver (psycopg reads a bare ``%`` as a placeholder)."""
        sql, params = self.dialect.render_bound(query)
        return (_escape_percent(sql) if self.is_postgres else sql), params

    def _rewrite_without(
        self, conn: sqlalchemy.Connection, table: sqlalchemy.Table, predicate: pl.Expr
    ) -> None:
        sa = _sa()
        rows = conn.execute(sa.select(table)).fetchall()
        names = [c.name for c in table.columns]
        everything = pl.DataFrame(
            [types.to_series(n, [r[i] for r in rows], table.c[n].type) for i, n in enumerate(names)]
        )
        kept = everything.filter(~predicate.fill_null(False))
        conn.execute(sa.delete(table))
        self._insert(conn, table, kept)

    def _list_keys(self) -> list[FeatureKey]:
        with self._translated("listing tables"), self._one_thread():
            names = _sa().inspect(self.engine).get_table_names()
        return keys_from_tables(names, self.table_prefix, self._claims.owners())

    # -- tables ---------------------------------------------------------------------------------

    def _table(self, key: FeatureKey) -> sqlalchemy.Table | None:
        name = self.table_name(key)
        if name in self._tables:
            return self._tables[name]
        with self._translated("reading the table's schema"), self._one_thread():
            table = _reflect(self.engine, name)
        if table is not None:
            self._tables[name] = table
        return table

    def _ensure_table(
        self, conn: sqlalchemy.Connection, key: FeatureKey, df: pl.DataFrame
    ) -> sqlalchemy.Table:
        """Create the table on first write; add new columns (nullable) later; refuse changed types."""
        name = self.table_name(key)
        wanted = {c: types.sql_type(df.schema[c], postgres=self.is_postgres) for c in df.columns}
        table = _reflect(conn, name)
        if table is None or any(c not in table.c for c in wanted):
            # the table changes: serialize with other writers changing it, then look again
            self._lock_table_definition(conn, name)
            table = _reflect(conn, name)
        if table is None:
            table = self._create_table(conn, name, wanted)
        else:
            self._check_types(key, table, wanted)
            table = self._add_columns(conn, table, wanted)
        return table

    def _lock_table_definition(self, conn: sqlalchemy.Connection, name: str) -> None:
        """Hold, until the transaction ends, the right to create or alter table ``name``.

        Without it two first writes both find no table and both create it (PostgreSQL then fails one
        with a unique violation on ``pg_type``). SQLite writers already hold the database's write lock.
        """
        if self.is_postgres:
            lock = "SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"
            conn.execute(_sa().text(lock), {"name": f"metaxy table {name}"})

    def _create_table(
        self, conn: sqlalchemy.Connection, name: str, wanted: dict[str, Any]
    ) -> sqlalchemy.Table:
        sa = _sa()
        table: sqlalchemy.Table = sa.Table(name, sa.MetaData(), *(sa.Column(c, t) for c, t in wanted.items()))
        table.create(conn, checkfirst=True)
        return table

    def _add_columns(
        self, conn: sqlalchemy.Connection, table: sqlalchemy.Table, wanted: dict[str, Any]
    ) -> sqlalchemy.Table:
        added = [c for c in wanted if c not in table.c]
        if not added:
            return table
        sa = _sa()
        quote = conn.dialect.identifier_preparer.quote
        for column in added:
            type_sql = wanted[column].compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column)} {type_sql}"))
        reflected = _reflect(conn, table.name)
        assert reflected is not None
        return reflected

    def _check_types(self, key: FeatureKey, table: sqlalchemy.Table, wanted: dict[str, Any]) -> None:
        for column, sql_type in wanted.items():
            if column not in table.c:
                continue
            stored = types.family(table.c[column].type)
            if stored != types.family(sql_type):
                raise SchemaError(
                    f"{self._where(key)}: column {column!r} is stored as {stored} but the frame has "
                    f"{types.family(sql_type)}.",
                    hint="Cast the column to its stored type, or write it under a new column name.",
                )


#: ids as a fraction of the rows above which a guess leaves a history's ids possibly unique (see
#: ``_ids_repeat_likely``; PostgreSQL's estimate from a sample of 30,000 rows is not exact)
_MOSTLY_UNIQUE = 0.9


def _refuse_nan(df: pl.DataFrame, *, where: str) -> None:
    """SQLite stores NaN as NULL: refuse it rather than change the value silently."""
    for name, dtype in df.schema.items():
        if dtype.is_float() and df[name].is_nan().any():
            raise SchemaError(
                f"{where}: column {name!r} holds NaN, which SQLite cannot store (it would read back as null).",
                hint="Replace NaN with null (fill_nan(None)) or a number before writing, or use another store.",
            )


def _reflect(bind: sqlalchemy.Connection | sqlalchemy.Engine, name: str) -> sqlalchemy.Table | None:
    """Table ``name``'s columns as ``bind`` sees them now (in a connection: its transaction), or None
    when it does not exist.

    Only the columns: metaxy's tables have no keys, indexes or constraints it reads, and a full
    reflection asks for all of them, eight catalog queries where the columns take one (PostgreSQL,
    a store's first table on a fresh connection: 34 -> 11 ms, every store open).
    """
    sa = _sa()
    try:
        columns = sa.inspect(bind).get_columns(name)
    except sa.exc.NoSuchTableError:
        return None
    table: sqlalchemy.Table = sa.Table(
        name, sa.MetaData(), *(sa.Column(c["name"], c["type"], nullable=c["nullable"]) for c in columns)
    )
    return table


def _own_sqlite_transactions(engine: sqlalchemy.Engine) -> None:
    """Make SQLite transactions cover DDL: the driver's own BEGIN comes only before the first INSERT.

    Left to pysqlite, ``CREATE TABLE`` commits on its own, so a first write that fails (or is killed)
    after it leaves an empty table behind. Here the driver issues no BEGIN and SQLAlchemy's ``begin``
    event does, before any statement; write transactions (see ``_writing``) take the write lock at once.
    """
    sa = _sa()
    sa.event.listen(engine, "connect", _no_driver_transactions)
    sa.event.listen(engine, "begin", _begin_sqlite)


def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    # SQLite has no MD5: the shard rule's two functions, in Python (docs/distributed.md#shards)
    dbapi_connection.create_function(SQLITE_MD5, 1, _md5_hex, deterministic=True)
    dbapi_connection.create_function(SQLITE_HEX_TO_INT, 1, _hex_to_int, deterministic=True)


def _md5_hex(text: str | None) -> str | None:
    return None if text is None else hashlib.md5(str(text).encode()).hexdigest()


def _hex_to_int(digits: str | None) -> int | None:
    return None if digits is None else int(digits, 16)


def _begin_sqlite(conn: sqlalchemy.Connection) -> None:
    writing = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _jsonb_as_text(conn: sqlalchemy.Connection) -> None:
    """Let psycopg hand JSONB over as text, so Polars decodes a whole column at once."""
    from psycopg.types.string import TextLoader

    conn.connection.dbapi_connection.adapters.register_loader("jsonb", TextLoader)  # type: ignore[union-attr]


def _copy_into(conn: sqlalchemy.Connection, table: str, df: pl.DataFrame) -> None:
    """``COPY ... FROM STDIN`` on the transaction's own connection (so it commits or rolls back with it)."""
    raw: Any = conn.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(copy_statement(table, df.columns)) as copy:
        for chunk in csv_chunks(df):
            copy.write(chunk)


def _apply_settings(engine: sqlalchemy.Engine, settings: Mapping[str, str]) -> None:
    """Run the store's ``SET`` statements on every new psycopg connection of ``engine``."""
    statements = settings_sql(settings)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        dbapi_connection.commit()

    if statements:
        _sa().event.listen(engine, "connect", on_connect)


_PERCENT = re.compile(r"%(?!\(p\d+\)s)")


def _is_json(table: sqlalchemy.Table, column: str) -> bool:
    return types.family(table.c[column].type) == "json"


def _dialect_for(url: str) -> SQLDialect:
    backend = url.split(":", 1)[0].split("+", 1)[0].lower()
    if backend in ("postgresql", "postgres"):
        return PostgresDialect()
    # SQLite, and the neutral rendering for other databases (no native hashing there)
    return SQLiteDialect()


def _escape_percent(sql: str) -> str:
    """Double every ``%`` except those of our ``%(pN)s`` placeholders (psycopg's parameter syntax)."""
    return _PERCENT.sub("%%", sql)


def _check_sqlite_directory(where: str, url: Any) -> None:
    """A SQLite file in a missing directory: say so (SQLite's own message is "unable to open")."""
    database = url.database if url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    directory = Path(database).absolute().parent
    if not directory.is_dir():
        raise StoreBackendError(
            f"{where}: the SQLite file {database} cannot be created: its directory {directory} does not exist.",
            hint="Create the directory first, or fix the URL (sqlite:///relative/path or sqlite:////absolute/path).",
        )


#: a store's existence probe waits this long for a server (seconds)
_PROBE_CONNECT_ARGS = {"connect_timeout": 5}


def _is_sqlite_memory(url: str) -> bool:
    return url.startswith("sqlite") and (url == "sqlite://" or ":memory:" in url)


def _sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL (``sqlite:///meta.db``); ``None`` for memory and servers."""
    if not url.startswith("sqlite") or _is_sqlite_memory(url):
        return None
    path = url.partition(":///")[2].partition("?")[0]
    return path or None


def _read_only_sqlite(path: str) -> Any:
    """A connection factory opening ``path`` read-only: SQLite then never creates the file."""

    def connect() -> Any:
        import sqlite3

        uri = f"{Path(path).absolute().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=SQLITE_LOCK_TIMEOUT)

    return connect


def _redact(url: str) -> str:
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, _creds = head.partition("://")
    return f"{scheme}://***@{tail}"


def _sa() -> Any:
    return import_driver("sqlalchemy", "sqlalchemy")


__all__ = ["SQLAlchemyMetadataStore"]

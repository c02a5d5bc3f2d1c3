"""What every SQL-speaking store shares: table names, the latest-rows read with pushed-down filters,
and native versioning through :class:`~metaxy.versioning.sql.SQLEngine`.

A concrete store adds its connection, DDL and append (``_open_backend``, ``_close_backend``,
``_append``, ``_delete_rows``, ``_list_keys``) plus two small hooks: ``_table_columns`` and ``_fetch``.

Filter policy: filters that cannot be translated to SQL run locally in Polars on the rows the database
returned (already narrowed by every filter that *could* be pushed), with a
:class:`~metaxy.exceptions.LocalFilterWarning`. They are never silently dropped.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Unpack

import polars as pl
import sqlglot.expressions as exp

from metaxy.constants import DELETED_AT, FEATURE_VERSION, UPDATED_AT
from metaxy.exceptions import FilterPushdownError, LocalFilterWarning, PolarsFallbackWarning
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._latest import ids_unique, pick_latest
from metaxy.stores._logging import warn_at_caller
from metaxy.stores._naming import TableClaims, table_name
from metaxy.stores._orphans import with_orphans_in_full
from metaxy.stores._ranges import NO_ROWS, IdBounds
from metaxy.stores.base import MetadataStore, ReadRequest, StoreOptions
from metaxy.versioning.digest import DIGEST_COLUMNS, DigestSums
from metaxy.versioning.hashing import HashAlgorithm
from metaxy.versioning.increment import Increment
from metaxy.versioning.sql import SQLDialect, SQLEngine, SQLTable, split_filters, to_sql_condition
from metaxy.versioning.sql.digest import digest_query
from metaxy.versioning.sql.engine import col, ident, latest_rows_query


@dataclass(frozen=True)
class LazyFetch:
    """How a lazy read fetches the columns a Polars plan uses, when collected.

    Attributes:
        fetch: runs a SELECT of the named columns of the read (subquery ``rows``), returning them.
        types: column types the result of the read with ``LIMIT 0`` does not tell (JSON structs).
        conditions: conditions the read adds (e.g. the feature versions those types hold for).
    """

    fetch: Callable[[exp.Select, list[str]], pl.DataFrame]
    types: Mapping[str, pl.DataType] = field(default_factory=dict)
    conditions: tuple[exp.Expr, ...] = ()


class SQLMetadataStore(MetadataStore):
    """Base class of stores whose backend speaks SQL (DuckDB, ClickHouse, SQLAlchemy databases)."""

    #: the SQL dialect of the backend
    dialect: ClassVar[SQLDialect]
    #: reads fetch when collected, selecting only the columns used (needs ``_fetch`` types independent
    #: of the rows, as with Arrow-native drivers)
    fetches_lazily: ClassVar[bool] = False
    #: a pseudo-column numbering a table's rows in storage order (DuckDB's and SQLite's ``rowid``), if
    #: any: a lazy latest read then picks the latest rows from the light columns (ids, timestamps) first
    #: and fetches the other columns of the picked rows only, by ranges of row numbers
    row_number_column: str | None = None
    #: unfiltered latest reads fetch the history and pick the latest rows in Polars instead of ranking
    #: them with a window in the database (lazy reads always do)
    picks_latest_locally: ClassVar[bool] = False

    def __init__(
        self, *, table_prefix: str = "", schema: str | None = None, **kwargs: Unpack[StoreOptions]
    ) -> None:
        self.table_prefix = table_prefix
        self.schema = schema
        self._claims = TableClaims(self)
        self._snapshot = threading.local()  # per thread: the columns met in its catalog snapshot
        super().__init__(**kwargs)

    # -- backend hooks --------------------------------------------------------------------------

    @abstractmethod
    def _table_columns(self, key: FeatureKey) -> list[str] | None:
        """Columns of ``key``'s table in table order, or ``None`` when the table does not exist."""

    @abstractmethod
    def _fetch(self, query: exp.Expr) -> pl.DataFrame:
        """Run a SELECT and return its rows (``*_by_field`` columns decoded to Polars structs)."""

    def _stored_columns(self, key: FeatureKey) -> list[str] | None:
        self._claims.check(key)
        return self._columns_of(key)

    @contextmanager
    def _catalog_snapshot(self) -> Iterator[None]:
        """Within it, each table's columns are looked up once (a catalog round trip each: a 1k-sample
        DuckDB resolution looked up its upstream's four times and its own missing table's twice).
        For read-only operations: a table this thread creates or alters inside it would go unseen."""
        if getattr(self._snapshot, "columns", None) is not None:  # nested: the outer one holds
            yield
            return
        self._snapshot.columns = {}
        try:
            yield
        finally:
            self._snapshot.columns = None

    def _columns_of(self, key: FeatureKey) -> list[str] | None:
        """:meth:`_table_columns`, answered from the catalog snapshot when one is open."""
        seen: dict[FeatureKey, tuple[str, ...] | None] | None = getattr(self._snapshot, "columns", None)
        if seen is None:
            return self._table_columns(key)
        if key not in seen:
            found = self._table_columns(key)
            seen[key] = None if found is None else tuple(found)
        kept = seen[key]
        return None if kept is None else list(kept)  # a copy: callers may change theirs

    def _append_registered(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        self._claims.check(key, claim=True)  # the table name is not injective: one key per table
        super()._append_registered(key, frame)

    # -- naming ---------------------------------------------------------------------------------

    def table_name(self, key: FeatureKey) -> str:
        """The (unquoted) table name of ``key``."""
        return table_name(key, self.table_prefix)

    def _sql_table(self, key: FeatureKey, feature_version: str | None = None) -> SQLTable | None:
        columns = self._stored_columns(key)
        if columns is None:
            return None
        return SQLTable(
            self.table_name(key), tuple(columns), feature_version, self.schema, self._text_columns(key)
        )

    def _text_columns(self, key: FeatureKey) -> tuple[str, ...]:
        """Columns of ``key``'s table holding strings, when the store knows them cheaply (default: none)."""
        return ()

    def render(self, query: exp.Expr) -> str:
        """SQL text of ``query`` in this store's dialect (identifiers quoted)."""
        return self.dialect.render(query)

    # -- reads ----------------------------------------------------------------------------------

    def _holds(self, key: FeatureKey, feature_version: str | None) -> bool:
        """One ``LIMIT 1`` query instead of reading the table (the base class's generic answer)."""
        if self.catalog is not None:
            return super()._holds(key, feature_version)
        table = self._sql_table(key, feature_version)
        if table is None:
            return False
        rows = latest_rows_query(table, (), latest=False, include_deleted=True)
        probe = rows.select(exp.Literal.number(1), append=False).limit(1)  # no column is read
        return self._fetch(probe).height > 0

    def _has_rows(self, key: FeatureKey) -> bool:
        """Whether ``key``'s table exists and holds a row (any version, tombstones too): one ``LIMIT 1``.

        Listing features uses it: a table can exist with no row (a backend without transactional DDL
        whose first write died after creating it; a write of zero rows), and such a table holds no feature.
        """
        columns = self._columns_of(key)
        if columns is None:
            return False
        table = SQLTable(self.table_name(key), tuple(columns), None, self.schema)
        rows = latest_rows_query(table, (), latest=False, include_deleted=True)
        return self._fetch(rows.select(exp.Literal.number(1), append=False).limit(1)).height > 0

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        return self._read_rows(ReadRequest.history(key))

    def _rows_now(self, key: FeatureKey) -> pl.DataFrame | None:
        """Every row of ``key``'s table (tombstones too) fetched at once, or None without a table.

        For small system tables: a lazy read's schema probe and Polars plan cost more than the read
        itself (the table claims of the benchmark's DuckDB file: 5-7 ms lazily, ~1 ms at once).
        """
        table = self._sql_table(key)
        if table is None:
            return None
        return self._read_eagerly(key, table, (), (), latest=False, include_deleted=True, pick=False)

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        key, ids, filters = request.key, request.ids, request.filters
        latest, include_deleted = request.latest, request.include_deleted
        table = self._sql_table(key, request.feature_version)
        if table is None:
            return None
        pushed, local = self._push(key, filters)
        lazy = self._lazy_fetch(key, table)
        if request.unread and lazy is None:  # a lazy fetch selects only what the plan uses
            kept = tuple(c for c in table.columns if c not in request.unread)
            table = replace(
                table, columns=kept, text_columns=tuple(c for c in table.text_columns if c in kept)
            )
        # latest reads filtered on the ids alone (or not at all) pick the latest rows in Polars from the
        # fetched history: faster than a window in the database, and the pick sees the data (rows in
        # time order, unique ids) first; a filter on the ids narrows the history to the same samples
        picks = lazy is not None or self.picks_latest_locally
        pick_ids = tuple(ids) if picks and latest and ids and _names_only(filters, ids) else ()
        if lazy is None:
            lf = self._read_eagerly(
                key,
                table,
                ids,
                pushed,
                latest=latest and not pick_ids,
                include_deleted=include_deleted,
                pick=bool(pick_ids),
            ).lazy()
        else:
            query = latest_rows_query(
                table,
                ids,
                latest=latest and not pick_ids,
                include_deleted=include_deleted or bool(pick_ids),
                conditions=[*pushed, *lazy.conditions],
            )
            lf = self._deferred(query, table, lazy, latest_of=pick_ids, drop_deleted=not include_deleted)
        for expr in local:
            lf = lf.filter(expr)
        return lf

    def _read_eagerly(
        self,
        key: FeatureKey,
        table: SQLTable,
        ids: Sequence[str],
        pushed: Sequence[exp.Expr],
        *,
        latest: bool,
        include_deleted: bool,
        pick: bool,
    ) -> pl.DataFrame:
        """``table``'s rows fetched at once: ranked latest per id in the database (``latest``) or picked
        in Polars (``pick``); a read of one feature version gets that column as one value set after
        fetching instead of a long string per row (unless a pushed filter names it)."""
        constant = not pushed and table.feature_version is not None and FEATURE_VERSION in table.columns
        fetched = (
            replace(table, columns=tuple(c for c in table.columns if c != FEATURE_VERSION))
            if constant
            else table
        )
        query = latest_rows_query(
            fetched, ids, latest=latest, include_deleted=include_deleted or pick, conditions=pushed
        )
        frame = self._fetch_rows(key, query, fetched)
        if constant:
            frame = with_feature_version(frame, table.columns, table.feature_version)
        if pick:
            frame = _without_deleted(pick_latest(frame, ids), not include_deleted)
        return frame

    def _lazy_fetch(self, key: FeatureKey, table: SQLTable) -> LazyFetch | None:
        """How a read of ``table`` fetches when collected, or None to fetch every column at once.

        Default: lazily, running the SELECT as it is, when :attr:`fetches_lazily`.
        """
        return LazyFetch(lambda select, columns: self._fetch(select)) if self.fetches_lazily else None

    def _fetch_rows(self, key: FeatureKey, query: exp.Select, table: SQLTable) -> pl.DataFrame:
        """Run ``query``, a read of ``key``'s rows from ``table`` (a store may fetch columns its own way)."""
        return self._fetch(query)

    def _digest_sums(self, request: ReadRequest) -> DigestSums:
        """One aggregate query when the database hashes md5 and the ids are integers or strings."""
        table = self._sql_table(request.key, request.feature_version)
        if table is None or not self._computes_digest(request, table):
            return super()._digest_sums(request)
        pushed, local = split_filters(request.filters, self.dialect)
        if local:  # a filter only Polars can run: the rows go through Polars anyway
            return super()._digest_sums(request)
        rows = latest_rows_query(table, request.ids, conditions=pushed)
        out = self._fetch(digest_query(self.dialect, rows, request.ids))
        return DigestSums(*(int(out[c][0] or 0) for c in ("rows", "h0", "h1")))

    def _computes_digest(self, request: ReadRequest, table: SQLTable) -> bool:
        if not (self.dialect.computes_digest and self.dialect.supports(HashAlgorithm.MD5)):
            return False
        if not all(c in table.columns for c in (*request.ids, *DIGEST_COLUMNS)):
            return False
        schema = self._stored_schema(request.key)
        return schema is not None and all(
            c in schema and (schema[c].is_integer() or schema[c] == pl.String) for c in request.ids
        )

    def _deferred(
        self,
        query: exp.Select,
        table: SQLTable,
        lazy: LazyFetch,
        *,
        latest_of: Sequence[str] = (),
        drop_deleted: bool = False,
    ) -> pl.LazyFrame:
        """A lazy frame over ``query`` (a read of ``table``) that fetches only the columns the Polars plan
        uses, when collected.

        Reads that feed a resolution need a few columns (ids, versions) of wide tables; selecting just
        those lets the database skip the rest (struct columns above all). With ``latest_of`` (id
        columns), ``query`` returns the history and the latest row per id is picked after fetching
        (tombstones dropped afterwards when ``drop_deleted``). Collect while the store is open.
        """
        from polars.io.plugins import register_io_source

        subquery = query.subquery("rows")
        picks = bool(latest_of)
        told = self._fetch(exp.select(exp.Star()).from_(subquery).limit(0)).schema
        schema = pl.Schema({name: lazy.types.get(name, dtype) for name, dtype in told.items()})
        numbered = None
        if picks and self.row_number_column is not None and self.row_number_column not in schema:
            number = exp.alias_(exp.column(self.row_number_column), ident(_ROW_NUMBER))
            numbered = query.copy().select(number).subquery("rows")

        def source(
            with_columns: list[str] | None,
            predicate: pl.Expr | None,
            n_rows: int | None,
            batch_size: int | None,
        ) -> Iterator[pl.DataFrame]:
            self.require_open()
            columns = with_columns or list(schema)
            if picks:
                frame = self._fetch_latest(
                    lazy.fetch, table, subquery, numbered, columns, latest_of, drop_deleted
                )
                frame = frame if n_rows is None else frame.head(n_rows)
            else:
                select = exp.select(*[col(c, "rows") for c in columns]).from_(subquery)
                frame = lazy.fetch(select if n_rows is None else select.limit(n_rows), columns)
            yield frame if predicate is None else frame.filter(predicate)

        return register_io_source(source, schema=schema)

    def _fetch_latest(
        self,
        fetch: Callable[[exp.Select, list[str]], pl.DataFrame],
        table: SQLTable,
        history: exp.Subquery,
        numbered: exp.Subquery | None,
        columns: Sequence[str],
        ids: Sequence[str],
        drop_deleted: bool,
    ) -> pl.DataFrame:
        """``columns`` of the latest row per id of ``history``, a read of ``table`` (``numbered``: the
        same rows with row numbers, where the database has them).

        A history that looks like one row per id is read once, without timestamps (nor tombstones,
        when it holds none), and kept whole when no id occurs twice in it (see
        :meth:`_read_once`). Otherwise, with row numbers, the pick runs on the ids,
        timestamps and row numbers alone, and the other columns are then read for the picked rows
        only, by ranges of row numbers the database skips storage blocks with (after a full rewrite of
        a feature the latest rows are one range: half of a two-write history's version strings are
        never read); rows picked from too many ranges are fetched whole and kept by row number.
        Without row numbers, every column is read and the pick runs on all of them. The queries run in
        :meth:`_reading_together`, so no write comes between them.
        """

        def read(
            names: Sequence[str],
            where: exp.Expr | None = None,
            *,
            of: exp.Subquery = history,
            none: bool = False,
        ) -> pl.DataFrame:
            """``names`` of the rows of ``of`` matching ``where`` (of none of them with ``none``)."""
            unique = list(dict.fromkeys(names))
            query = exp.select(*[col(c, "rows") for c in unique]).from_(of)
            query = query.where(where) if where is not None else query
            return fetch(query.limit(0) if none else query, unique)

        def latest(rows: pl.DataFrame) -> pl.DataFrame:
            """The latest row per id of ``rows`` (a history's), tombstones dropped when asked."""
            return _without_deleted(pick_latest(rows, ids), drop_deleted)

        with self._reading_together():
            tombstones = self._read_once(table, history, ids)
            if tombstones is not None:
                once = read([*columns, *ids, *([DELETED_AT] if tombstones else [])])
                if ids_unique(once, ids):  # nothing to pick: no timestamps needed
                    return _without_deleted(once, drop_deleted and tombstones).select(columns)
                del once  # an id occurs twice after all
            if numbered is None:
                return latest(read([*columns, *ids, UPDATED_AT, DELETED_AT])).select(columns)
            picked = latest(read([_ROW_NUMBER, *ids, UPDATED_AT, DELETED_AT], of=numbered))
            rows = picked.get_column(_ROW_NUMBER).sort()
            del picked
            if rows.len() == 0:
                return read(columns, none=True)
            runs = row_runs(rows)
            if len(runs) <= _MAX_RUNS:
                return read(columns, exp.or_(*[_between(a, b) for a, b in runs]), of=numbered)
            frame = read([*columns, _ROW_NUMBER], of=numbered)
            return frame.filter(pl.col(_ROW_NUMBER).is_in(rows.implode())).drop(_ROW_NUMBER)

    def _reading_together(self) -> AbstractContextManager[object]:
        """Where the queries of one read must all see the same rows: under the store's lock, so no
        write of this store comes between them."""
        return self._lock

    def _read_once(self, table: SQLTable, history: exp.Subquery, ids: Sequence[str]) -> bool | None:
        """Whether ``history`` looks like one row per id, so one read of every row without timestamps
        most likely needs no pick, and if so whether that read must fetch tombstones; None to pick.

        Where the database tells without a scan whether ids repeat in ``table``
        (:meth:`_ids_repeat_likely`), that decides (an unknown count of tombstones is fetched).
        Otherwise one aggregate tells: one integer id column, no null, as many rows as integers
        between the smallest and largest id, and how many rows are tombstones. One read costs less
        than reading ids and timestamps first to pick from (DuckDB, 1M rows: 20-30 ms less of a
        ~240 ms resolution; SQLite, whose aggregate is a full scan: ~0.25 s against ~0.6 s;
        PostgreSQL, whose ADBC parse costs ~0.1 s per column of a million rows: ~0.1 s of scan
        against ~0.2 s of timestamps and tombstones). An id that does occur twice costs that read:
        the pick then runs as for any history.
        """
        if len(ids) != 1:
            return None
        repeat = self._ids_repeat_likely(table, ids[0])
        if repeat is not None:
            return None if repeat else True
        bounds = self._bounds(history, col(ids[0], "rows"), count=col(DELETED_AT, "rows"))
        return bounds.counted > 0 if bounds is not None and bounds.dense else None

    def _ids_repeat_likely(self, table: SQLTable, column: str) -> bool | None:
        """What the database tells without a scan (statistics, its first and last rows) of whether
        values of ``column`` repeat in ``table``: True, False (each most likely occurs once), or None
        where it tells nothing. A guess: it only spares the aggregate of :meth:`_read_once`."""
        return None

    def _id_bounds(self, key: FeatureKey, column: str) -> IdBounds | None:
        """One aggregate over the table: the bounds of ``column`` and the number of rows."""
        table = self._sql_table(key)
        if table is None:
            return NO_ROWS
        if column not in table.columns:
            return None
        return self._bounds(table.ref(), col(column))

    def _bounds(
        self, source: exp.Expr, values: exp.Expr, *, count: exp.Expr | None = None
    ) -> IdBounds | None:
        """The bounds of the integers ``values`` over the rows of ``source``, the number of rows and
        (with ``count``) how many of them hold a value of ``count``; None when ``values`` are not
        integers or some are null."""
        bounds = exp.select(
            exp.alias_(exp.Min(this=values), "low"),
            exp.alias_(exp.Max(this=values), "high"),
            exp.alias_(exp.Count(this=exp.Star()), "n_rows"),
            exp.alias_(exp.Count(this=values), "n_ids"),
            *([exp.alias_(exp.Count(this=count), "counted")] if count is not None else []),
        ).from_(source)
        out = self._fetch(bounds)
        integers = out.schema["low"].is_integer() and out.schema["high"].is_integer()
        if not integers or out["n_rows"][0] != out["n_ids"][0]:
            # ids of another type (ranges are of integers; SQLite keeps a text value in an integer
            # column, which is then the largest), or null ids (in no range)
            return None
        counted = int(out["counted"][0] or 0) if count is not None else 0
        return IdBounds(out["low"][0], out["high"][0], int(out["n_rows"][0]), counted)

    def _push(self, key: FeatureKey, filters: Sequence[pl.Expr]) -> tuple[list[exp.Expr], list[pl.Expr]]:
        pushed, local = split_filters(filters, self.dialect)
        if local:
            warn_at_caller(
                f"{self._where(key)}: filter(s) {', '.join(str(e) for e in local)} cannot run in "
                f"{self.dialect.name} SQL and run locally on the rows it returned.",
                LocalFilterWarning,
            )
        return pushed, local

    # -- native versioning ----------------------------------------------------------------------

    def supports_native_versioning(self) -> bool:
        return self.dialect.supports(self.hash_settings.algorithm)

    def _resolve_native(
        self,
        plan: FeaturePlan,
        upstream_versions: Mapping[FeatureKey, str],
        filters: Sequence[pl.Expr],
        *,
        lazy: bool,
    ) -> Increment[Any] | None:
        """One query computes the increment; with ``lazy`` it runs when a part is first collected."""
        tables = self._resolution_tables(plan, upstream_versions)
        if tables is None:
            return None
        engine = SQLEngine(self.dialect, self.hash_settings)
        try:
            conditions = [to_sql_condition(f, self.dialect) for f in filters]
            query = engine.resolve_query(plan, tables, conditions, full_orphans=False)
        except FilterPushdownError as exc:
            self._operation_log.warn_once(
                f"{plan.key.to_string()}: {exc.message}",
                f"{plan.key.to_string()}: {exc.message} Computing versions with Polars "
                "(warned once per store and feature).",
                PolarsFallbackWarning,
            )
            return None
        own_table = plan.key in tables

        def increment(rows: pl.DataFrame) -> Increment[pl.DataFrame]:
            split = engine.split(plan, rows)
            return with_orphans_in_full(self, plan, filters, split) if own_table else split

        if not lazy:
            return increment(self._fetch(query))
        return self._lazy_increment(query, increment)

    def _lazy_increment(
        self, query: exp.Select, increment: Callable[[pl.DataFrame], Increment[pl.DataFrame]]
    ) -> Increment[pl.LazyFrame]:
        """Three lazy parts over one query (``increment`` splits its rows): it runs once, when the first
        part is collected.

        Only the result's schema is asked for now (the query with ``LIMIT 0``). Collect the parts
        (``Increment.collect()``) while the store is open.
        """
        from polars.io.plugins import register_io_source

        empty = increment(self._fetch(query.copy().limit(0)))
        done: list[Increment[pl.DataFrame]] = []

        def part(name: str) -> pl.LazyFrame:
            def source(
                with_columns: list[str] | None,
                predicate: pl.Expr | None,
                n_rows: int | None,
                batch_size: int | None,
            ) -> Iterator[pl.DataFrame]:
                if not done:
                    self.require_open()
                    done.append(increment(self._fetch(query)))
                frame: pl.DataFrame = getattr(done[0], name)
                frame = frame if with_columns is None else frame.select(with_columns)
                frame = frame if predicate is None else frame.filter(predicate)
                yield frame if n_rows is None else frame.head(n_rows)

            return register_io_source(source, schema=getattr(empty, name).schema)

        return Increment(part("new"), part("stale"), part("orphaned"))

    def _resolution_tables(
        self, plan: FeaturePlan, upstream_versions: Mapping[FeatureKey, str]
    ) -> dict[FeatureKey, SQLTable] | None:
        """The upstream tables at their current versions (plus this feature's table), or None."""
        tables: dict[FeatureKey, SQLTable] = {}
        for key, version in upstream_versions.items():
            table = self._sql_table(key, version)
            if table is None:
                return None
            tables[key] = table
        own = self._sql_table(plan.key)
        if own is not None:
            tables[plan.key] = own
        return tables


def _names_only(filters: Sequence[pl.Expr], columns: Sequence[str]) -> bool:
    """Whether every filter reads ``columns`` alone (true of no filter)."""
    return all(set(expr.meta.root_names()) <= set(columns) for expr in filters)


_ROW_NUMBER = "__mx_row_number"
#: at most this many ranges of row numbers go into one query; more are kept after fetching instead
_MAX_RUNS = 64


def with_feature_version(frame: pl.DataFrame, columns: Sequence[str], version: str | None) -> pl.DataFrame:
    """``columns`` of ``frame``, the feature-version column among them as the one ``version`` of every
    row (a read that keeps to one version fetches it as that value, not as a string per row)."""
    constant = pl.lit(version, pl.String).alias(FEATURE_VERSION)
    return frame.select(constant if c == FEATURE_VERSION else pl.col(c) for c in columns)


def _without_deleted(rows: pl.DataFrame, drop_deleted: bool) -> pl.DataFrame:
    """``rows`` without tombstones when ``drop_deleted``; the frame itself when it holds none (a
    filter keeping every row would still copy every column)."""
    if not drop_deleted or rows.get_column(DELETED_AT).null_count() == rows.height:
        return rows
    return rows.filter(pl.col(DELETED_AT).is_null())


def row_runs(rows: pl.Series) -> list[tuple[int, int]]:
    """The runs of consecutive values of sorted, unique integers ``rows``, as (first, last) pairs.

    One run when the values span exactly as many numbers as there are (a table written once, or
    rewritten whole): told by the ends alone, without the two passes (1M rows: 5-15 ms).
    """
    if rows.len() and rows[-1] - rows[0] + 1 == rows.len():
        return [(int(rows[0]), int(rows[-1]))]
    firsts = rows.filter(rows.diff().fill_null(0) != 1)
    lasts = rows.filter((rows.shift(-1) - rows).fill_null(0) != 1)
    return [(int(a), int(b)) for a, b in zip(firsts, lasts, strict=True)]


def _between(first: int, last: int) -> exp.Expr:
    number = col(_ROW_NUMBER, "rows")
    if first == last:
        return exp.EQ(this=number, expression=exp.Literal.number(first))
    return exp.Between(this=number, low=exp.Literal.number(first), high=exp.Literal.number(last))

"""``store.sql(query)``: read-only SQL over stored metadata, run by an in-memory DuckDB.

Each feature's latest rows (what ``read_metadata`` returns) are a view named by the feature's table
name (``video/raw`` → ``video__raw``); its whole stored history (every row, tombstones included) is
the view of the same name in the ``history`` schema. Only the views a query names are read, and
only one read statement (``SELECT``, ``WITH ... SELECT``, ``FROM ...``) is accepted; the DuckDB that
runs it is in memory, cannot read files and cannot change its settings, so the query can never reach
the store's own data except through those views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from metaxy.constants import SYSTEM_NAMESPACE
from metaxy.exceptions import FeatureNotFoundError, QueryError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.stores._arrow_stream import ArrowStream
from metaxy.stores._drivers import import_driver

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

#: the schema holding one view per feature with its whole stored history
HISTORY_SCHEMA = "history"
_EXAMPLE = "SELECT sample_uid, metaxy_data_version FROM video__raw LIMIT 10"


@dataclass(frozen=True)
class QueryTable:
    """One view a query may name: the feature behind it and whether it is the history view."""

    key: FeatureKey
    history: bool

    @property
    def name(self) -> str:
        table = self.key.to_table_name()
        return f"{HISTORY_SCHEMA}.{table}" if self.history else table


def queryable_keys(store: MetadataStore, graph: FeatureGraph) -> dict[str, FeatureKey]:
    """Table name → feature key, for the graph's features and every key stored in the chain."""
    keys: dict[str, FeatureKey] = {}
    for member in store.fallback_chain():
        for key in member.list_features():
            keys.setdefault(key.to_table_name(), key)
    for key in graph.topological_order():
        keys[key.to_table_name()] = key  # the graph's own key wins (``-`` cannot be read back from names)
    return dict(sorted(keys.items()))


def run_sql(store: MetadataStore, query: str, graph: FeatureGraph) -> pl.DataFrame:
    """The rows ``query`` selects from the views of ``store``'s features (see the module docstring)."""
    duckdb = import_driver("duckdb", "duckdb", needed_by="store.sql()")
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
    try:
        _check_read_only(con, query, duckdb)
        known = queryable_keys(store, graph)
        for table in _named_tables(query, known):
            _register(con, table, _rows(store, table, graph))
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        try:
            return pl.DataFrame(con.sql(query))  # the query runs now
        except duckdb.Error as exc:
            raise QueryError(
                f"The SQL query failed in store {store.name!r}: {_first_line(exc)}",
                hint=_tables_hint(known),
            ) from exc
    finally:
        con.close()


def _check_read_only(con: Any, query: str, duckdb: Any) -> None:
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(
            f"The SQL query does not parse: {_first_line(exc)}", hint=f"Example: {_EXAMPLE}"
        ) from exc
    if len(statements) != 1:
        raise QueryError(
            f"store.sql() runs exactly one statement; got {len(statements)}.",
            hint="Send one SELECT (a WITH ... SELECT is one statement).",
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(
            f"store.sql() is read-only and refuses a {kind.name} statement.",
            hint=f"Send a SELECT; metadata is written with store.write_metadata(). Example: {_EXAMPLE}",
        )


def _named_tables(query: str, known: dict[str, FeatureKey]) -> list[QueryTable]:
    """The views ``query`` names that are features (other names are left to DuckDB: CTEs, functions)."""
    sqlglot = import_driver("sqlglot", "duckdb", needed_by="store.sql()")
    try:
        tree = sqlglot.parse_one(query, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise QueryError(
            f"The SQL query does not parse: {_first_line(exc)}", hint=_tables_hint(known)
        ) from exc
    tables = set()
    for node in tree.find_all(sqlglot.exp.Table):
        schema = node.db.lower() or None
        if node.name in known and schema in (None, "main", HISTORY_SCHEMA):
            tables.add(QueryTable(known[node.name], history=schema == HISTORY_SCHEMA))
    return sorted(tables, key=lambda t: t.name)


def _rows(store: MetadataStore, table: QueryTable, graph: FeatureGraph) -> pl.DataFrame:
    key = table.key
    try:
        if key in graph:
            with graph.use():
                return store.read_metadata(key, history=table.history).collect()
        # stored, but not defined in this graph: its raw rows, from the first store of the chain holding it
        for member in store.fallback_chain():
            if key in member.list_features():
                scanned = member.read_system_table(key)
                if scanned is not None:
                    return scanned.collect()
    except FeatureNotFoundError:
        pass
    raise QueryError(
        f"The SQL query reads {table.name!r}, but nothing is stored for feature {key.to_string()!r} "
        f"in store {store.name!r} or its fallbacks.",
        hint="Write the feature first, or query another table.",
    )


def _register(con: Any, table: QueryTable, rows: pl.DataFrame) -> None:
    source = f"_metaxy_{'history' if table.history else 'latest'}_{table.key.to_table_name()}"
    con.register(source, ArrowStream(rows))
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{HISTORY_SCHEMA}"')
    schema = HISTORY_SCHEMA if table.history else "main"
    con.execute(f'CREATE VIEW "{schema}"."{table.key.to_table_name()}" AS SELECT * FROM "{source}"')


def _tables_hint(known: dict[str, FeatureKey]) -> str:
    names = [n for n, k in known.items() if k.parts[0] != SYSTEM_NAMESPACE]
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return f"Tables: {shown or '(none stored)'}; each also as {HISTORY_SCHEMA}.<table> with every stored row."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["HISTORY_SCHEMA", "QueryTable", "queryable_keys", "run_sql"]

"""One small class of tables per SQL backend: how it hashes, concatenates and reads struct fields.

Every hash expression renders exactly like :func:`metaxy.versioning.hashing.hash_text` (xxhash as the
decimal string of the unsigned integer, md5/sha256 as lowercase hex, then a prefix slice); golden
tests run the generated SQL and compare it with the Python recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import sqlglot.expressions as exp

from metaxy.exceptions import VersioningError
from metaxy.versioning.hashing import SEPARATOR, HashAlgorithm, HashSettings

HashBuilder = Callable[[exp.Expr], exp.Expr]


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    """A function call rendered verbatim, so sqlglot never swaps in another dialect's function."""
    return exp.Anonymous(this=name, expressions=list(args))


def _str(value: str) -> exp.Expr:
    return exp.Literal.string(value)


class SQLDialect:
    """What the SQL engine needs to know about one backend. Subclasses are mostly tables."""

    #: the backend's name in metaxy (``get_dialect`` key)
    name: ClassVar[str] = "sql"
    #: the sqlglot dialect used to render SQL text
    sqlglot_dialect: ClassVar[str] = ""
    #: hash algorithms computed inside the database, each with its rendering expression
    hashers: ClassVar[dict[HashAlgorithm, HashBuilder]] = {}
    #: the aggregate collecting a group's values into an (ordered) array
    list_agg: ClassVar[str] = "array_agg"

    def supports(self, algorithm: HashAlgorithm | str) -> bool:
        """Whether the database can compute ``algorithm`` itself."""
        return HashAlgorithm.coerce(algorithm) in self.hashers

    def hash(self, text: exp.Expr, settings: HashSettings) -> exp.Expr:
        """``text`` hashed, rendered and truncated like ``hash_text``."""
        builder = self.hashers.get(settings.algorithm)
        if builder is None:
            raise VersioningError(
                f"{self.name} cannot compute {settings.algorithm.value} in SQL.",
                hint="Use versioning_engine='polars' (or 'auto'), or a hash algorithm the backend supports: "
                + (", ".join(a.value for a in self.hashers) or "none")
                + ".",
            )
        rendered = builder(text)
        if settings.truncation is None:
            return rendered
        return exp.Substring(
            this=rendered, start=exp.Literal.number(1), length=exp.Literal.number(settings.truncation)
        )

    def concat(self, parts: Sequence[exp.Expr]) -> exp.Expr:
        """Parts joined with ``"|"``; a NULL part counts as ``""`` (like ``fill_null("")`` in Polars)."""
        pieces: list[exp.Expr] = []
        for i, part in enumerate(parts):
            if i:
                pieces.append(_str(SEPARATOR))
            pieces.append(
                part if isinstance(part, exp.Literal) else exp.Coalesce(this=part, expressions=[_str("")])
            )
        if len(pieces) == 1:
            return pieces[0]
        result = pieces[0]
        for piece in pieces[1:]:
            result = exp.DPipe(this=result, expression=piece, safe=True)
        return result

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        """One field of a ``*_by_field`` column, as text."""
        raise NotImplementedError

    def ordered_join(self, value: exp.Expr, order_by: Sequence[exp.Expr]) -> exp.Expr:
        """Aggregate: ``value`` of a group's rows (NULL as ``""``) joined with ``"|"`` in ``order_by`` order."""
        return _call("array_to_string", _call(self.list_agg, _ordered(value, order_by)), _str(SEPARATOR))

    def finalize(self, query: exp.Select) -> exp.Select:
        """Backend-specific settings for a finished query (default: unchanged)."""
        return query

    def render(self, query: exp.Expr) -> str:
        """SQL text for this backend; identifiers are always quoted."""
        return query.sql(dialect=self.sqlglot_dialect, identify=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class DuckDBDialect(SQLDialect):
    """DuckDB: md5 and sha256 built in (xxhash would need an extension download: never)."""

    name = "duckdb"
    sqlglot_dialect = "duckdb"
    list_agg = "list"
    hashers = {
        HashAlgorithm.MD5: lambda e: _call("md5", e),
        HashAlgorithm.SHA256: lambda e: _call("sha256", e),
    }

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        # struct_extract with a literal name is exactly `col.field`, but safe for any field name
        return _call("struct_extract", column, _str(field))


class ClickHouseDialect(SQLDialect):
    """ClickHouse: xxhash32/64 (decimal), md5/sha256 (hex); by-field columns are named Tuples."""

    name = "clickhouse"
    sqlglot_dialect = "clickhouse"
    hashers = {
        HashAlgorithm.XXHASH32: lambda e: _call("toString", _call("xxHash32", e)),
        HashAlgorithm.XXHASH64: lambda e: _call("toString", _call("xxHash64", e)),
        HashAlgorithm.MD5: lambda e: _call("lower", _call("hex", _call("MD5", e))),
        HashAlgorithm.SHA256: lambda e: _call("lower", _call("hex", _call("SHA256", e))),
    }

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        return _call("tupleElement", column, _str(field))

    def ordered_join(self, value: exp.Expr, order_by: Sequence[exp.Expr]) -> exp.Expr:
        # groupArray skips NULLs, so values are coalesced first; arraySort(f, values, keys) sorts by keys
        key = order_by[0] if len(order_by) == 1 else _call("tuple", *order_by)
        sorted_values = _call(
            "arraySort",
            exp.Lambda(
                this=exp.column("__mx_k", quoted=True),
                expressions=[
                    exp.to_identifier("__mx_v", quoted=True),
                    exp.to_identifier("__mx_k", quoted=True),
                ],
            ),
            _call("groupArray", exp.Coalesce(this=value, expressions=[_str("")])),
            _call("groupArray", key),
        )
        return _call("arrayStringConcat", sorted_values, _str(SEPARATOR))

    def finalize(self, query: exp.Select) -> exp.Select:
        # SQL semantics for outer joins: unmatched columns are NULL, not the type's default value
        setting = exp.EQ(this=exp.column("join_use_nulls"), expression=exp.Literal.number(1))
        query.set("settings", [setting])
        return query


class PostgresDialect(SQLDialect):
    """PostgreSQL: md5 and sha256 (hex via ``encode``); by-field columns are JSONB."""

    name = "postgres"
    sqlglot_dialect = "postgres"
    hashers = {
        HashAlgorithm.MD5: lambda e: _call("md5", e),
        HashAlgorithm.SHA256: lambda e: _call(
            "encode", _call("sha256", _call("convert_to", e, _str("UTF8"))), _str("hex")
        ),
    }

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        return exp.JSONExtractScalar(this=column, expression=_str(field))


class SQLiteDialect(SQLDialect):
    """SQLite: no hash functions (versions are computed with Polars); by-field columns are JSON text."""

    name = "sqlite"
    sqlglot_dialect = "sqlite"
    hashers = {}

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        return _call("json_extract", column, _str(f'$."{field}"'))

    def ordered_join(self, value: exp.Expr, order_by: Sequence[exp.Expr]) -> exp.Expr:
        # SQLite (3.44+) puts ORDER BY after the separator argument
        ordered_sep = exp.Order(
            this=_str(SEPARATOR),
            expressions=[exp.Ordered(this=o, desc=False, nulls_first=False) for o in order_by],
        )
        return _call("group_concat", exp.Coalesce(this=value, expressions=[_str("")]), ordered_sep)


def _ordered(value: exp.Expr, order_by: Sequence[exp.Expr]) -> exp.Expr:
    """``coalesce(value, '') ORDER BY ...``: the argument of an ordered aggregate."""
    return exp.Order(
        this=exp.Coalesce(this=value, expressions=[_str("")]),
        expressions=[exp.Ordered(this=o, desc=False, nulls_first=False) for o in order_by],
    )


DIALECTS: dict[str, type[SQLDialect]] = {
    cls.name: cls for cls in (DuckDBDialect, ClickHouseDialect, PostgresDialect, SQLiteDialect)
}


def get_dialect(name: str) -> SQLDialect:
    """The dialect registered under ``name`` (``"duckdb"``, ``"clickhouse"``, ``"postgres"``, ``"sqlite"``)."""
    try:
        return DIALECTS[name.lower()]()
    except KeyError:
        raise VersioningError(
            f"No SQL dialect named {name!r}.", hint="Use one of: " + ", ".join(sorted(DIALECTS)) + "."
        ) from None

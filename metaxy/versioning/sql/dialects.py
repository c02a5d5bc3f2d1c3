"""One small class of tables per SQL backend: how it hashes, concatenates, reads struct fields, binds
values and compares them.

Every hash expression renders exactly like :func:`metaxy.versioning.hashing.hash_text` (xxhash as the
decimal string of the unsigned integer, md5/sha256 as lowercase hex, then a prefix slice); golden
tests run the generated SQL and compare it with the Python recipe.

User values (filter literals, feature versions) are never written into SQL text: :meth:`SQLDialect.param`
makes a placeholder carrying the value, and :meth:`SQLDialect.render_bound` returns the text with the
backend's placeholder syntax plus the values to bind (``$p0`` for DuckDB, ``%(p0)s`` for psycopg,
``:p0`` for SQLite, ``{p0: Type}`` for ClickHouse).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import sqlglot.expressions as exp
from sqlglot.dialects.sqlite import SQLite

from metaxy.exceptions import FilterPushdownError, VersioningError
from metaxy.versioning.hashing import SEPARATOR, HashAlgorithm, HashSettings

HashBuilder = Callable[[exp.Expr], exp.Expr]
Comparison = Callable[..., exp.Expr]

#: where a placeholder keeps its value (sqlglot carries ``meta`` through copies)
_VALUE = "metaxy_value"
_COMPARISONS: dict[str, Comparison] = {
    "Eq": exp.EQ,
    "NotEq": exp.NEQ,
    "Lt": exp.LT,
    "LtEq": exp.LTE,
    "Gt": exp.GT,
    "GtEq": exp.GTE,
}


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

    # -- values and comparisons -------------------------------------------------------------------

    def param(self, value: Any) -> exp.Expr:
        """A placeholder bound to ``value`` (a str, int, float or bool) when rendered with ``render_bound``.

        Raises:
            FilterPushdownError: the backend cannot hold ``value`` (the filter then runs in Polars).
        """
        return bound(value)

    def _param_kind(self, value: Any) -> exp.Expr | None:
        return None  # only ClickHouse spells the type in the placeholder

    def compare(self, op: str, left: exp.Expr, right: exp.Expr) -> exp.Expr:
        """``left op right`` with Polars' semantics (``op`` is a Polars operator name: Eq, Lt, ...)."""
        return exp.Paren(this=_COMPARISONS[op](this=left, expression=right))

    def is_in(self, value: exp.Expr, items: list[exp.Expr]) -> exp.Expr:
        """``value`` equals one of ``items`` (nulls already removed)."""
        return exp.In(this=value, expressions=items)

    def starts_with(self, value: exp.Expr, prefix: exp.Expr) -> exp.Expr:
        """``value`` begins with ``prefix`` (compared as characters, never as bytes of a slice)."""
        return _call("starts_with", value, prefix)

    # -- text -------------------------------------------------------------------------------------

    def render(self, query: exp.Expr) -> str:
        """SQL text for this backend; identifiers are always quoted (placeholders left unnamed)."""
        return query.sql(dialect=self.sqlglot_dialect, identify=True)

    def render_bound(self, query: exp.Expr) -> tuple[str, dict[str, Any]]:
        """SQL text with named placeholders, and the values to bind to them."""
        params: dict[str, Any] = {}
        for node in query.find_all(exp.Placeholder, bfs=False):
            if _VALUE in node.meta:
                name = f"p{len(params)}"
                node.set("this", name)
                node.set("kind", self._param_kind(node.meta[_VALUE]))
                params[name] = node.meta[_VALUE]
        return self.render(query), params

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

    def _param_kind(self, value: Any) -> exp.Expr | None:
        if isinstance(value, bool):
            kind = "Bool"
        elif isinstance(value, int):
            kind = "Int64" if value < 2**63 else "UInt64"
        else:
            kind = "Float64" if isinstance(value, float) else "String"
        return exp.Var(this=kind)

    def compare(self, op: str, left: exp.Expr, right: exp.Expr) -> exp.Expr:
        # ClickHouse compares NaN the IEEE way; Polars treats NaN as equal to itself and greater than
        # every number. So each comparison adds the NaN cases (known statically for bound values).
        if op in ("Gt", "GtEq"):
            op, left, right = {"Gt": "Lt", "GtEq": "LtEq"}[op], right, left
        if op in ("Eq", "NotEq"):
            left, right = _signless_zero(left, right)
        base = _COMPARISONS["Eq" if op == "NotEq" else op](this=left, expression=right)
        nan_left, nan_right = _nan(left), _nan(right)
        extra: exp.Expr | None = None
        if op in ("Eq", "NotEq") and nan_left and nan_right:
            extra = _all(nan_left, nan_right)
        elif op == "Lt" and nan_right:  # a number is less than NaN
            extra = _all(_not(nan_left), nan_right)
        elif op == "LtEq" and nan_right:  # anything but null is at most NaN
            extra = _all(nan_right, _not(exp.Is(this=left.copy(), expression=exp.Null())))
        same = exp.Paren(this=exp.or_(base, extra) if extra is not None else base)
        return exp.Paren(this=exp.Not(this=same)) if op == "NotEq" else same

    def is_in(self, value: exp.Expr, items: list[exp.Expr]) -> exp.Expr:
        # IN compares floats by bits (-0.0 misses 0.0, NaN never matches): compare one by one instead
        if not any(isinstance(bound_value(i), float) for i in items):
            return super().is_in(value, items)
        return exp.Paren(this=exp.or_(*(self.compare("Eq", value.copy(), i) for i in items)))

    def starts_with(self, value: exp.Expr, prefix: exp.Expr) -> exp.Expr:
        return _call("startsWith", value, prefix)  # a UTF-8 byte prefix is a character prefix

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

    def param(self, value: Any) -> exp.Expr:
        if isinstance(value, str) and "\x00" in value:  # text cannot hold NUL: no stored value matches
            raise FilterPushdownError(
                "PostgreSQL text cannot contain NUL characters.", hint="Such a filter runs in Polars."
            )
        return super().param(value)

    def compare(self, op: str, left: exp.Expr, right: exp.Expr) -> exp.Expr:
        # order strings by their bytes, as Polars does, whatever the database's collation
        if op not in ("Eq", "NotEq") and any(isinstance(bound_value(e), str) for e in (left, right)):
            left, right = (
                exp.Collate(this=e, expression=exp.Identifier(this="C", quoted=True))
                if isinstance(bound_value(e), str)
                else e
                for e in (left, right)
            )
        return super().compare(op, left, right)


class _BacktickSQLite(SQLite):
    """SQLite quoting identifiers with backticks: a double-quoted name SQLite cannot resolve would be
    read as a string literal (``"vidoe_id" IS NOT NULL`` is true for every row); a backticked one is
    an error."""

    class Tokenizer(SQLite.Tokenizer):
        IDENTIFIERS = ["`", '"', ("[", "]")]


class SQLiteDialect(SQLDialect):
    """SQLite: no hash functions (versions are computed with Polars); by-field columns are JSON text."""

    name = "sqlite"
    sqlglot_dialect: ClassVar[Any] = _BacktickSQLite
    hashers = {}

    def param(self, value: Any) -> exp.Expr:
        if isinstance(value, float) and math.isnan(value):  # SQLite binds NaN as NULL
            raise FilterPushdownError("SQLite has no NaN value.", hint="Such a filter runs in Polars.")
        return super().param(value)

    def starts_with(self, value: exp.Expr, prefix: exp.Expr) -> exp.Expr:
        head = _call("substr", value, exp.Literal.number(1), _call("length", prefix))
        return exp.Paren(this=exp.EQ(this=head, expression=prefix.copy()))

    def struct_field(self, column: exp.Expr, field: str) -> exp.Expr:
        return _call("json_extract", column, _str(f'$."{field}"'))

    def ordered_join(self, value: exp.Expr, order_by: Sequence[exp.Expr]) -> exp.Expr:
        # SQLite (3.44+) puts ORDER BY after the separator argument
        ordered_sep = exp.Order(
            this=_str(SEPARATOR),
            expressions=[exp.Ordered(this=o, desc=False, nulls_first=False) for o in order_by],
        )
        return _call("group_concat", exp.Coalesce(this=value, expressions=[_str("")]), ordered_sep)


def _nan(node: exp.Expr) -> exp.Expr | None:
    """A condition true when ``node`` is NaN (``v != v``: NaN is the one value unequal to itself),
    or ``None`` when it cannot be NaN (a bound value other than NaN)."""
    if isinstance(node, exp.Placeholder) and _VALUE in node.meta:
        value = node.meta[_VALUE]
        return exp.true() if isinstance(value, float) and math.isnan(value) else None
    return exp.NEQ(this=node.copy(), expression=node.copy())


def _signless_zero(left: exp.Expr, right: exp.Expr) -> tuple[exp.Expr, exp.Expr]:
    """Equality with a bound float, safe from ClickHouse rewriting ``x = a OR x = b ...`` into
    ``x IN (a, b)`` (which compares floats by bits, so -0.0 misses 0.0): the bound zero is +0.0 and
    the other side gets ``+ 0.0`` (which turns -0.0 into 0.0 and leaves every other value as it is)."""
    sides = [left, right]
    for i, side in enumerate(sides):
        value = bound_value(side)
        if isinstance(value, float) and not isinstance(value, bool):
            other = sides[1 - i]
            if bound_value(other) is None:
                sides[1 - i] = exp.Paren(this=exp.Add(this=other, expression=exp.Literal.number("0.0")))
            if value == 0.0:
                sides[i] = bound(0.0)
            break
    return sides[0], sides[1]


def _not(condition: exp.Expr | None) -> exp.Expr | None:
    """Negate a :func:`_nan` result: ``None`` ("never NaN") negates to ``None`` (read as "always" by
    :func:`_all`), TRUE to FALSE, a condition to ``NOT (condition)``."""
    if condition is None:
        return None
    if isinstance(condition, exp.Boolean):
        return None if not condition.this else exp.false()
    return exp.Not(this=exp.Paren(this=condition))


def _all(*conditions: exp.Expr | None) -> exp.Expr:
    """AND of the conditions; ``None`` and TRUE (always true) are left out."""
    kept = [c for c in conditions if c is not None and not (isinstance(c, exp.Boolean) and c.this)]
    return exp.and_(*kept) if kept else exp.true()


def bound(value: Any) -> exp.Placeholder:
    """A placeholder for ``value``: rendered with ``render_bound``, ``value`` is bound, never inlined."""
    node = exp.Placeholder(this="p")
    node.meta[_VALUE] = value
    return node


def bound_value(node: exp.Expr) -> Any:
    """The value ``node`` binds, or ``None`` when it is not a bound placeholder."""
    return node.meta.get(_VALUE) if isinstance(node, exp.Placeholder) else None


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

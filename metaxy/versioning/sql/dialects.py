"""The SQL dialect contract: what the versioning engine needs to know about one SQL backend (how it
hashes, concatenates, reads struct fields, binds values and compares them), and the pieces the
backends' dialects share. Each backend's dialect, a small class of tables, lives in the backend's
folder (``metaxy/stores/<kind>/schema.py``); the store hands it to the engine.

Every hash expression renders exactly like :func:`metaxy.versioning.hashing.hash_text` (xxhash as the
decimal string of the unsigned integer, md5/sha256 as lowercase hex, then a prefix slice); golden
tests run the generated SQL and compare it with the Python recipe.

User values (filter literals, feature versions) are never written into SQL text: :meth:`SQLDialect.param`
makes a placeholder carrying the value, and :meth:`SQLDialect.render_bound` returns the text with the
backend's placeholder syntax plus the values to bind (``$p0`` for DuckDB, ``%(p0)s`` for psycopg,
``:p0`` for SQLite, ``{p0: Type}`` for ClickHouse).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import sqlglot.expressions as exp

from metaxy.exceptions import FilterPushdownError, VersioningError
from metaxy.versioning.hashing import SEPARATOR, HashAlgorithm, HashSettings
from metaxy.versioning.shard import HEX_DIGITS, Shard

HashBuilder = Callable[[exp.Expr], exp.Expr]
Comparison = Callable[..., exp.Expr]

#: where a placeholder keeps its value (sqlglot carries ``meta`` through copies)
BOUND_VALUE = "metaxy_value"
COMPARISONS: dict[str, Comparison] = {
    "Eq": exp.EQ,
    "NotEq": exp.NEQ,
    "Lt": exp.LT,
    "LtEq": exp.LTE,
    "Gt": exp.GT,
    "GtEq": exp.GTE,
}


def function_call(name: str, *args: exp.Expr) -> exp.Expr:
    """A function call rendered verbatim, so sqlglot never swaps in another dialect's function."""
    return exp.Anonymous(this=name, expressions=list(args))


def string_literal(value: str) -> exp.Expr:
    """``value`` as a SQL string literal (for function arguments the dialect itself writes)."""
    return exp.Literal.string(value)


class SQLDialect:
    """What the SQL engine needs to know about one backend. Subclasses are mostly tables."""

    #: the dialect's name (``metaxy.stores.backends.sql_dialect`` key)
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
                pieces.append(string_literal(SEPARATOR))
            pieces.append(
                part
                if isinstance(part, exp.Literal)
                else exp.Coalesce(this=part, expressions=[string_literal("")])
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
        return function_call(
            "array_to_string",
            function_call(self.list_agg, _ordered(value, order_by)),
            string_literal(SEPARATOR),
        )

    def byte_order(self, text: exp.Expr) -> exp.Expr:
        """A string column ordered by its bytes, as Polars orders strings (default: already so)."""
        return text

    def finalize(self, query: exp.Select) -> exp.Select:
        """Backend-specific settings for a finished query (default: unchanged)."""
        return query

    def computed_once(self, query: exp.Select) -> exp.Select:
        """``query`` (a CTE whose computed columns are read more than once) kept from being inlined.

        A planner that inlines it copies each computed expression (a hash) into every place that reads
        it; without common-subexpression elimination each copy then runs once per row. Default:
        unchanged (the backend evaluates such a column once).
        """
        return query

    # -- provenance digest (metaxy.versioning.digest) ------------------------------------------------

    #: whether the database computes the provenance digest itself (needs md5 and ``hex_to_int``)
    computes_digest: ClassVar[bool] = False

    def to_text(self, value: exp.Expr) -> exp.Expr:
        """``value`` (an integer or string column) as text, rendered as Polars casts it to ``String``."""
        return exp.cast(value, "TEXT")

    def hex_to_int(self, hex_text: exp.Expr) -> exp.Expr:
        """Eight lowercase hex digits read as an unsigned 32-bit integer, typed BIGINT."""
        raise NotImplementedError

    def to_int64(self, value: exp.Expr) -> exp.Expr:
        """``value`` (a number) as a 64-bit signed integer."""
        return exp.cast(value, "BIGINT")

    # -- shards (metaxy.versioning.shard) ----------------------------------------------------------

    def shard_condition(self, columns: Sequence[str], shard: Shard) -> exp.Expr:
        """Rows whose shard key (``columns``) falls into ``shard``: the rule of :mod:`metaxy.versioning.shard`.

        Raises:
            FilterPushdownError: the database has no MD5 (the shard is then filtered in Polars).
        """
        key = self.concat([self.to_text(exp.column(exp.to_identifier(c, quoted=True))) for c in columns])
        digits = exp.Substring(
            this=self.md5_hex(key), start=exp.Literal.number(1), length=exp.Literal.number(HEX_DIGITS)
        )
        number = exp.Mod(this=self.hex_to_int(digits), expression=exp.Literal.number(shard.count))
        return exp.Paren(this=exp.EQ(this=exp.Paren(this=number), expression=exp.Literal.number(shard.index)))

    def md5_hex(self, text: exp.Expr) -> exp.Expr:
        """The MD5 of ``text``'s UTF-8 bytes as lowercase hex (the database's own, from ``hashers``)."""
        builder = self.hashers.get(HashAlgorithm.MD5)
        if builder is None:
            raise FilterPushdownError(
                f"{self.name} has no MD5 function for the shard rule.",
                hint="The shard is filtered in Polars.",
            )
        return builder(text)

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
        return exp.Paren(this=COMPARISONS[op](this=left, expression=right))

    def is_in(self, value: exp.Expr, items: list[exp.Expr]) -> exp.Expr:
        """``value`` equals one of ``items`` (nulls already removed)."""
        return exp.In(this=value, expressions=items)

    def starts_with(self, value: exp.Expr, prefix: exp.Expr) -> exp.Expr:
        """``value`` begins with ``prefix`` (compared as characters, never as bytes of a slice)."""
        return function_call("starts_with", value, prefix)

    # -- text -------------------------------------------------------------------------------------

    def render(self, query: exp.Expr) -> str:
        """SQL text for this backend; identifiers are always quoted (placeholders left unnamed)."""
        return query.sql(dialect=self.sqlglot_dialect, identify=True)

    def render_bound(self, query: exp.Expr) -> tuple[str, dict[str, Any]]:
        """SQL text with named placeholders, and the values to bind to them."""
        params: dict[str, Any] = {}
        for node in query.find_all(exp.Placeholder, bfs=False):
            if BOUND_VALUE in node.meta:
                name = f"p{len(params)}"
                node.set("this", name)
                node.set("kind", self._param_kind(node.meta[BOUND_VALUE]))
                params[name] = node.meta[BOUND_VALUE]
        return self.render(query), params

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def bound(value: Any) -> exp.Placeholder:
    """A placeholder for ``value``: rendered with ``render_bound``, ``value`` is bound, never inlined."""
    node = exp.Placeholder(this="p")
    node.meta[BOUND_VALUE] = value
    return node


def bound_value(node: exp.Expr) -> Any:
    """The value ``node`` binds, or ``None`` when it is not a bound placeholder."""
    return node.meta.get(BOUND_VALUE) if isinstance(node, exp.Placeholder) else None


def _ordered(value: exp.Expr, order_by: Sequence[exp.Expr]) -> exp.Expr:
    """``coalesce(value, '') ORDER BY ...``: the argument of an ordered aggregate."""
    return exp.Order(
        this=exp.Coalesce(this=value, expressions=[string_literal("")]),
        expressions=[exp.Ordered(this=o, desc=False, nulls_first=False) for o in order_by],
    )

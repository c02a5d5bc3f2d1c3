"""Translate Polars filter expressions into SQL ``WHERE`` conditions (the subset in docs/sql-engine.md).

Expressions are walked through their serialized JSON form. Values become sqlglot literals (escaped by
sqlglot, never formatted into SQL text by us) and identifiers are always quoted. Anything outside the
supported subset raises :class:`~metaxy.exceptions.FilterPushdownError`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import sqlglot.expressions as exp

from metaxy.exceptions import FilterPushdownError
from metaxy.versioning.sql.dialects import SQLDialect

Node = dict[str, Any]

_COMPARISONS: dict[str, Callable[..., exp.Expr]] = {
    "Eq": exp.EQ,
    "NotEq": exp.NEQ,
    "Lt": exp.LT,
    "LtEq": exp.LTE,
    "Gt": exp.GT,
    "GtEq": exp.GTE,
}
_LOGICAL: dict[str, Callable[..., exp.Expr]] = {
    "And": exp.And,
    "LogicalAnd": exp.And,
    "Or": exp.Or,
    "LogicalOr": exp.Or,
}
_UNITS = {"Microseconds": 1, "Milliseconds": 1000, "Nanoseconds": None}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_sql_condition(expr: pl.Expr, dialect: SQLDialect) -> exp.Expr:
    """The SQL condition equivalent to the Polars filter ``expr``.

    Raises:
        FilterPushdownError: ``expr`` uses something outside the supported subset.
    """
    return _Translator(expr, dialect).node(_tree(expr))


def split_filters(exprs: Sequence[pl.Expr], dialect: SQLDialect) -> tuple[list[exp.Expr], list[pl.Expr]]:
    """Split filters into SQL conditions and the Polars expressions that must run locally.

    Top-level ``&`` chains are split first, so ``(a > 1) & udf(b)`` still pushes ``a > 1``.
    """
    pushed: list[exp.Expr] = []
    local: list[pl.Expr] = []
    for expr in exprs:
        for node in _conjuncts(_tree(expr)):
            try:
                pushed.append(_Translator(expr, dialect).node(node))
            except FilterPushdownError:
                local.append(_expr_from_tree(node))
    return pushed, local


def _tree(expr: pl.Expr) -> Node:
    tree: Node = json.loads(expr.meta.serialize(format="json"))
    return tree


def _expr_from_tree(node: Node) -> pl.Expr:
    return pl.Expr.deserialize(io.StringIO(json.dumps(node)), format="json")


def _conjuncts(node: Node) -> list[Node]:
    binary = node.get("BinaryExpr") if isinstance(node, dict) else None
    if binary and binary["op"] in ("And", "LogicalAnd"):
        return _conjuncts(binary["left"]) + _conjuncts(binary["right"])
    return [node]


class _Translator:
    """Walks one serialized expression; errors name the whole original filter."""

    def __init__(self, expr: pl.Expr, dialect: SQLDialect) -> None:
        self.expr = expr
        self.dialect = dialect

    def fail(self, what: str) -> FilterPushdownError:
        return FilterPushdownError(
            f"Filter {self.expr} cannot run in {self.dialect.name} SQL: {what} is not supported.",
            hint="Use columns, literals, comparisons, &, |, ~, is_in, is_null, is_not_null, is_between "
            "and str.starts_with; or filter the returned LazyFrame yourself.",
        )

    def node(self, node: Any) -> exp.Expr:
        if not isinstance(node, dict) or len(node) != 1:
            raise self.fail(f"expression {str(node)[:60]!r}")
        ((kind, body),) = node.items()
        if kind == "Column" and isinstance(body, str):
            return exp.column(exp.to_identifier(body, quoted=True))
        if kind == "Literal":
            return self.literal(body)
        if kind == "BinaryExpr":
            return self.binary(body)
        if kind == "Function":
            return self.function(body["input"], body["function"])
        raise self.fail(f"the {kind} expression")

    def binary(self, body: Node) -> exp.Expr:
        op = body["op"]
        left, right = self.node(body["left"]), self.node(body["right"])
        builder = _COMPARISONS.get(op) or _LOGICAL.get(op)
        if builder is None:
            raise self.fail(f"the operator {op}")
        if op in _COMPARISONS and (_is_null(left) or _is_null(right)):
            raise self.fail("comparing with None (use is_null/is_not_null)")
        return exp.Paren(this=builder(this=left, expression=right))

    def function(self, inputs: list[Any], function: Any) -> exp.Expr:
        args = [self.node(i) for i in inputs]
        name, options = (function, None) if isinstance(function, str) else next(iter(function.items()))
        if name == "Boolean":
            return self.boolean(options, args)
        if name == "StringExpr" and options == "StartsWith" and len(args) == 2:
            if not isinstance(args[1], exp.Literal) or not args[1].is_string:
                raise self.fail("str.starts_with with a non-literal prefix")
            return self.starts_with(args[0], args[1].this)
        raise self.fail(f"the function {name}{'' if options is None else '.' + str(options)[:40]}")

    def boolean(self, options: Any, args: list[exp.Expr]) -> exp.Expr:
        name, opts = (options, None) if isinstance(options, str) else next(iter(options.items()))
        if name == "Not" and len(args) == 1:
            return exp.Not(this=exp.Paren(this=args[0]))
        if name == "IsNull" and len(args) == 1:
            return exp.Is(this=args[0], expression=exp.Null())
        if name == "IsNotNull" and len(args) == 1:
            return exp.Not(this=exp.Paren(this=exp.Is(this=args[0], expression=exp.Null())))
        if name == "IsIn" and len(args) == 2 and isinstance(args[1], exp.Tuple):
            values = [v for v in args[1].expressions if not isinstance(v, exp.Null)]
            if not values:
                return exp.false()
            return exp.In(this=args[0], expressions=values)
        if name == "IsBetween" and len(args) == 3:
            return self.between(args, opts["closed"] if isinstance(opts, dict) else "Both")
        raise self.fail(f"{name}")

    def between(self, args: list[exp.Expr], closed: str) -> exp.Expr:
        value, low, high = args
        lower = exp.GTE if closed in ("Both", "Left") else exp.GT
        upper = exp.LTE if closed in ("Both", "Right") else exp.LT
        return exp.Paren(
            this=exp.And(
                this=lower(this=value, expression=low), expression=upper(this=value, expression=high)
            )
        )

    def starts_with(self, column: exp.Expr, prefix: str) -> exp.Expr:
        # substring comparison instead of LIKE: no wildcard escaping to get wrong
        head = exp.Substring(this=column, start=exp.Literal.number(1), length=exp.Literal.number(len(prefix)))
        return exp.Paren(this=exp.EQ(this=head, expression=exp.Literal.string(prefix)))

    def literal(self, body: Node) -> exp.Expr:
        ((kind, value),) = body.items()
        if kind == "Dyn":
            ((_, scalar),) = value.items()
            return _scalar(scalar)
        if kind == "Scalar":
            return self.scalar(value)
        if kind == "Series":
            return self.series(value)
        raise self.fail(f"the literal {kind}")

    def scalar(self, value: Any) -> exp.Expr:
        if value == "Null" or (isinstance(value, dict) and "Null" in value):
            return exp.Null()
        ((dtype, raw),) = value.items()
        if dtype == "List":
            return self.series(raw)
        if dtype == "Date":
            return _cast(_EPOCH.date() + timedelta(days=raw), "DATE")
        if dtype == "Datetime":
            return self.datetime(raw)
        if dtype in ("String", "Boolean") or dtype.startswith(("Int", "UInt", "Float")):
            return _scalar(raw)
        raise self.fail(f"a {dtype} literal")

    def datetime(self, raw: list[Any]) -> exp.Expr:
        ticks, unit, tz = raw
        per_us = _UNITS.get(unit)
        moment = _EPOCH + (
            timedelta(microseconds=ticks // 1000)
            if per_us is None
            else timedelta(microseconds=ticks * per_us)
        )
        if tz:
            return _cast(moment.isoformat(sep=" "), "TIMESTAMPTZ")
        return _cast(moment.replace(tzinfo=None).isoformat(sep=" "), "TIMESTAMP")

    def series(self, raw: list[int]) -> exp.Expr:
        values = pl.read_ipc_stream(io.BytesIO(bytes(raw))).to_series()
        if values.dtype.is_nested():
            raise self.fail("a nested is_in value")
        items = [self.python_value(v) for v in values.to_list()]
        return exp.Tuple(expressions=items)

    def python_value(self, value: Any) -> exp.Expr:
        if value is None:
            return exp.Null()
        if isinstance(value, datetime):
            kind = "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
            return _cast(value.isoformat(sep=" "), kind)
        if isinstance(value, date):
            return _cast(value.isoformat(), "DATE")
        if isinstance(value, bool | int | float | str):
            return _scalar(value)
        raise self.fail(f"the value {value!r}")


def _scalar(value: Any) -> exp.Expr:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        if isinstance(value, float) and value != value:  # NaN has no portable SQL spelling
            raise FilterPushdownError("NaN literals cannot be pushed down.", hint="Filter NaN with Polars.")
        return exp.Literal.number(value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise FilterPushdownError(
        f"Unsupported literal {value!r}.", hint="Use a str, int, float, bool or date literal."
    )


def _cast(text: str | date, kind: str) -> exp.Expr:
    return exp.Cast(this=exp.Literal.string(str(text)), to=exp.DataType.build(kind))


def _is_null(node: exp.Expr) -> bool:
    return isinstance(node, exp.Null)

"""Translate Polars filter expressions into SQL ``WHERE`` conditions (the subset in docs/sql-engine.md).

Expressions are walked through their serialized JSON form, next to the Polars expression itself (the
JSON writes every non-finite float as ``null``; the value is read from the expression). Values become
bound parameters (:meth:`SQLDialect.param`), never SQL text, and identifiers are always quoted.
Comparisons, ``is_in`` and ``starts_with`` are built by the dialect, so each backend gets Polars'
semantics (NaN equal to itself and above every number, ``-0.0 == 0.0``, character prefixes).
Anything outside the supported subset raises :class:`~metaxy.exceptions.FilterPushdownError`.
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
from metaxy.versioning.shard import ShardFilter
from metaxy.versioning.sql.dialects import SQLDialect, bound_value

Node = dict[str, Any]

_COMPARISONS = frozenset({"Eq", "NotEq", "Lt", "LtEq", "Gt", "GtEq"})
_LOGICAL: dict[str, Callable[..., exp.Expr]] = {
    "And": exp.And,
    "LogicalAnd": exp.And,
    "Or": exp.Or,
    "LogicalOr": exp.Or,
}
_UNITS = {"Microseconds": 1, "Milliseconds": 1000, "Nanoseconds": None}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_sql_condition(expr: pl.Expr, dialect: SQLDialect) -> exp.Expr:
    """The SQL condition equivalent to the Polars filter ``expr`` (values as bound parameters).

    Raises:
        FilterPushdownError: ``expr`` uses something outside the supported subset.
    """
    if isinstance(expr, ShardFilter):
        return dialect.shard_condition(expr.columns, expr.shard)
    return _Translator(expr, dialect).node(_tree(expr), expr)


def split_filters(exprs: Sequence[pl.Expr], dialect: SQLDialect) -> tuple[list[exp.Expr], list[pl.Expr]]:
    """Split filters into SQL conditions and the Polars expressions that must run locally.

    Top-level ``&`` chains are split first, so ``(a > 1) & udf(b)`` still pushes ``a > 1``; what runs
    locally is the original Polars sub-expression, never one rebuilt from JSON.
    """
    pushed: list[exp.Expr] = []
    local: list[pl.Expr] = []
    for expr in exprs:
        if isinstance(expr, ShardFilter):
            try:
                pushed.append(dialect.shard_condition(expr.columns, expr.shard))
            except FilterPushdownError:
                local.append(expr)
            continue
        for node, part in _conjuncts(_tree(expr), expr):
            try:
                pushed.append(_Translator(expr, dialect).node(node, part))
            except FilterPushdownError:
                local.append(part)
    return pushed, local


def _tree(expr: pl.Expr) -> Node:
    try:
        tree: Node = json.loads(expr.meta.serialize(format="json"))
    except pl.exceptions.PolarsError:  # e.g. a Python UDF: no JSON form, nothing to translate
        return {"Unserializable": None}
    return tree


def _inputs(expr: pl.Expr) -> list[pl.Expr]:
    """The direct inputs of ``expr``, in the order of its JSON form (``meta.pop`` lists them reversed)."""
    return list(reversed(expr.meta.pop()))


def _conjuncts(node: Node, expr: pl.Expr) -> list[tuple[Node, pl.Expr]]:
    binary = node.get("BinaryExpr") if isinstance(node, dict) else None
    if binary and binary["op"] in ("And", "LogicalAnd"):
        left, right = _inputs(expr)
        return _conjuncts(binary["left"], left) + _conjuncts(binary["right"], right)
    return [(node, expr)]


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

    def node(self, node: Any, expr: pl.Expr) -> exp.Expr:
        if not isinstance(node, dict) or len(node) != 1:
            raise self.fail(f"expression {str(node)[:60]!r}")
        ((kind, body),) = node.items()
        if kind == "Column" and isinstance(body, str):
            return exp.column(exp.to_identifier(body, quoted=True))
        if kind == "Literal":
            return self.literal(body, expr)
        if kind == "BinaryExpr":
            return self.binary(body, _inputs(expr))
        if kind == "Function":
            return self.function(body["input"], _inputs(expr), body["function"])
        raise self.fail(f"the {kind} expression")

    def binary(self, body: Node, exprs: list[pl.Expr]) -> exp.Expr:
        op = body["op"]
        left, right = self.node(body["left"], exprs[0]), self.node(body["right"], exprs[1])
        if op in _COMPARISONS:
            if _is_null(left) or _is_null(right):
                raise self.fail("comparing with None (use is_null/is_not_null)")
            return self.dialect.compare(op, left, right)
        builder = _LOGICAL.get(op)
        if builder is None:
            raise self.fail(f"the operator {op}")
        return exp.Paren(this=builder(this=left, expression=right))

    def function(self, inputs: list[Any], exprs: list[pl.Expr], function: Any) -> exp.Expr:
        args = [self.node(i, e) for i, e in zip(inputs, exprs, strict=True)]
        name, options = (function, None) if isinstance(function, str) else next(iter(function.items()))
        if name == "Boolean":
            return self.boolean(options, args)
        if name == "StringExpr" and options == "StartsWith" and len(args) == 2:
            if not isinstance(bound_value(args[1]), str):
                raise self.fail("str.starts_with with a non-literal prefix")
            return self.dialect.starts_with(args[0], args[1])
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
            return self.dialect.is_in(args[0], values)
        if name == "IsBetween" and len(args) == 3:
            return self.between(args, opts["closed"] if isinstance(opts, dict) else "Both")
        raise self.fail(f"{name}")

    def between(self, args: list[exp.Expr], closed: str) -> exp.Expr:
        value, low, high = args
        lower = "GtEq" if closed in ("Both", "Left") else "Gt"
        upper = "LtEq" if closed in ("Both", "Right") else "Lt"
        compare = self.dialect.compare
        return exp.Paren(
            this=exp.And(this=compare(lower, value, low), expression=compare(upper, value.copy(), high))
        )

    def literal(self, body: Node, expr: pl.Expr) -> exp.Expr:
        ((kind, value),) = body.items()
        if kind == "Dyn":
            ((dtype, scalar),) = value.items()
            if dtype == "Float" and scalar is None:  # a non-finite float: JSON has no spelling for it
                scalar = pl.select(expr).item()
            return self.value(scalar)
        if kind == "Scalar":
            return self.scalar(value, expr)
        if kind == "Series":
            return self.series(value)
        raise self.fail(f"the literal {kind}")

    def scalar(self, value: Any, expr: pl.Expr) -> exp.Expr:
        if value == "Null" or (isinstance(value, dict) and "Null" in value):
            return exp.Null()
        ((dtype, raw),) = value.items()
        if dtype == "List":
            return self.series(raw)
        if dtype == "Date":
            return self.cast(_EPOCH.date() + timedelta(days=raw), "DATE")
        if dtype == "Datetime":
            return self.datetime(raw)
        if dtype.startswith("Float") and raw is None:
            return self.value(pl.select(expr).item())
        if dtype in ("String", "Boolean") or dtype.startswith(("Int", "UInt", "Float")):
            return self.value(raw)
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
            return self.cast(moment.isoformat(sep=" "), "TIMESTAMPTZ")
        return self.cast(moment.replace(tzinfo=None).isoformat(sep=" "), "TIMESTAMP")

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
            return self.cast(value.isoformat(sep=" "), kind)
        if isinstance(value, date):
            return self.cast(value.isoformat(), "DATE")
        return self.value(value)

    def value(self, value: Any) -> exp.Expr:
        if isinstance(value, bool | int | float | str):
            return self.dialect.param(value)
        raise self.fail(f"the literal {value!r} (use a str, int, float, bool, date or datetime)")

    def cast(self, text: str | date, kind: str) -> exp.Expr:
        return exp.Cast(this=self.dialect.param(str(text)), to=exp.DataType.build(kind))


def _is_null(node: exp.Expr) -> bool:
    return isinstance(node, exp.Null)

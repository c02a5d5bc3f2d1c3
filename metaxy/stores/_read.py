"""``ReadRequest``: what the ``_read_rows`` primitive is asked for, and the filter helpers reads share.

Every store entry point that takes ``filters=`` (read, delete, resolve) goes through :func:`as_filters`
before any query runs; reads, deletes and resolves then check the columns a filter names with
:func:`check_filter_columns`, so a misspelled column is an error on every store (SQLite, for one,
would otherwise read an unknown ``"column"`` as a string literal and match every row).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from metaxy.constants import DELETED_AT, FEATURE_VERSION
from metaxy.exceptions import FeatureNotFoundError, InvalidFilterError, SchemaError
from metaxy.models.keys import FeatureKey
from metaxy.models.spec import FeatureSpec
from metaxy.stores._empty import conform_empty, empty_columns, is_marked_empty
from metaxy.stores._latest import latest_rows

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

_EXAMPLE = 'filters=[pl.col("video_id") == "a"] or filters=pl.sql_expr("duration > 1")'

Filters = pl.Expr | Sequence[pl.Expr] | None


@dataclass(frozen=True)
class ReadRequest:
    """One read of stored rows.

    Attributes:
        key: the feature whose rows to read.
        ids: its id columns (needed to pick the latest row per sample).
        feature_version: only rows of this feature version; None reads every version.
        latest: keep the latest row per id (by ``metaxy_updated_at``); False reads the history.
        include_deleted: keep soft-deleted samples (their tombstones included).
        filters: Polars conditions applied last (a filter never resurrects an older row).
        prune: conditions the caller applies itself to the rows read; a partitioned store may use
            them to skip partitions (see :mod:`metaxy.stores._partitioning`), others ignore them.
        unread: columns the caller never reads (never the ids, timestamps or feature version); a store
            that fetches every selected column before Polars sees the plan may leave them out.
    """

    key: FeatureKey
    ids: tuple[str, ...] = ()
    feature_version: str | None = None
    latest: bool = True
    include_deleted: bool = False
    filters: tuple[pl.Expr, ...] = ()
    prune: tuple[pl.Expr, ...] = ()
    unread: frozenset[str] = frozenset()

    @classmethod
    def history(cls, key: FeatureKey, feature_version: str | None = None) -> ReadRequest:
        """Every stored row of ``key`` (optionally of one version), tombstones included."""
        return cls(key, feature_version=feature_version, latest=False, include_deleted=True)


def read_scanned(lf: pl.LazyFrame, request: ReadRequest) -> pl.LazyFrame:
    """``request`` answered from ``lf``, a feature's whole stored history (a backend's ``_scan``).

    Order: one feature version (if set), latest row per id, deleted samples dropped, then the filters.
    """
    if request.feature_version is not None:
        lf = lf.filter(pl.col(FEATURE_VERSION) == request.feature_version)
    if request.latest:
        lf = latest_rows(lf, request.ids)
    if not request.include_deleted:
        lf = lf.filter(pl.col(DELETED_AT).is_null())
    for expr in request.filters:
        lf = lf.filter(expr)
    return lf


def matching_rows(keys: pl.DataFrame) -> pl.Expr:
    """A predicate true for rows whose values in ``keys``' columns equal one row of ``keys``."""
    columns = keys.columns
    wanted = keys.select(pl.struct(columns)).to_series().implode()
    return pl.struct(columns).is_in(wanted, nulls_equal=True)


def select_columns(lf: pl.LazyFrame, columns: Sequence[str], *, where: str) -> pl.LazyFrame:
    """``lf`` narrowed to ``columns``, refusing names it does not have (instead of failing at collect).

    Raises:
        SchemaError: naming the unknown columns and listing the stored ones.
    """
    if isinstance(columns, str):
        columns = [columns]
    present = lf.collect_schema().names()
    unknown = [c for c in columns if c not in present]
    if unknown:
        raise SchemaError(
            f"{where}: column(s) {unknown} are not stored.",
            hint=f"Stored columns: {', '.join(present)}.",
        )
    return lf.select(columns)


def as_filters(filters: Any, *, where: str) -> tuple[pl.Expr, ...]:
    """``filters`` (``None``, one ``pl.Expr`` or a sequence of them) as a tuple of expressions.

    Raises:
        InvalidFilterError: ``filters`` is anything else (a SQL string, a bool, a number, a Series,
            a mapping, or a sequence holding one of these); ``where`` starts the message.
    """
    if filters is None:
        return ()
    if isinstance(filters, pl.Expr):
        return (filters,)
    if isinstance(filters, str | bytes | Mapping | pl.Series | pl.DataFrame) or not isinstance(
        filters, Iterable
    ):
        raise _not_an_expression(filters, where)
    exprs = tuple(filters)
    for expr in exprs:
        if not isinstance(expr, pl.Expr):
            raise _not_an_expression(expr, where)
    return exprs


def check_filter_columns(exprs: Sequence[pl.Expr], columns: Iterable[str], *, where: str) -> None:
    """Refuse a filter that names a column not in ``columns`` (the feature's stored columns).

    Raises:
        InvalidFilterError: naming the unknown column(s), the filter and the stored columns.
    """
    known = set(columns)
    for expr in exprs:
        missing = [name for name in dict.fromkeys(expr.meta.root_names()) if name not in known]
        if missing:
            raise InvalidFilterError(
                f"{where}: filter {expr} names column(s) {', '.join(repr(m) for m in missing)}, "
                f"which the feature does not have. Stored columns: {', '.join(sorted(known))}.",
                hint="Check the spelling; filters may only use the columns listed above.",
            )


def all_of(exprs: Sequence[pl.Expr]) -> pl.Expr | None:
    """The conjunction of ``exprs`` (None when empty)."""
    if not exprs:
        return None
    combined = exprs[0]
    for expr in exprs[1:]:
        combined = combined & expr
    return combined


def read_first(stores: Sequence[MetadataStore], request: ReadRequest, spec: FeatureSpec) -> pl.LazyFrame:
    """``request`` answered by the first of ``stores`` that materialized the feature (at its version).

    Raises:
        FeatureNotFoundError: none of ``stores`` did.
    """
    store, holds = first_holder(stores, request, spec)
    lf = store._read_rows(request)
    return lf if holds and lf is not None else conform_empty(lf, spec)  # an empty write


def first_holder(
    stores: Sequence[MetadataStore], request: ReadRequest, spec: FeatureSpec
) -> tuple[MetadataStore, bool]:
    """The first of ``stores`` that materialized ``request``'s feature (at its version), and whether it
    holds rows (False: an empty write); ``request``'s filters are checked against its columns.

    Raises:
        FeatureNotFoundError: none of ``stores`` did.
    """
    key, version = request.key, request.feature_version
    for store in stores:
        holds = store._holds(key, version)
        if holds or is_marked_empty(store, key, version):
            if request.filters:  # before any query runs; written empty with no table: ids and system columns
                known = store._stored_columns(key)
                known = empty_columns(spec) if known is None else known
                check_filter_columns(request.filters, known, where=store._where(key))
            return store, holds
    raise FeatureNotFoundError(
        f"No metadata for feature {key.to_string()!r}"
        + (f" at feature version {version}" if version else "")
        + f" in: {', '.join(s.name for s in stores)}.",
        hint="Write it first (write_metadata) or read another version with feature_version=/all_versions=True.",
    )


def _not_an_expression(value: Any, where: str) -> InvalidFilterError:
    if isinstance(value, str):
        return InvalidFilterError(
            f"{where}: filters={value!r} is a string, not a Polars expression.",
            hint=f"Use pl.col(...) expressions or parse SQL with pl.sql_expr({value!r}), e.g. {_EXAMPLE}.",
        )
    return InvalidFilterError(
        f"{where}: filters={_short(value)} ({type(value).__name__}) is not a Polars expression.",
        hint=f"Pass one pl.Expr or a list of them, e.g. {_EXAMPLE}.",
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."

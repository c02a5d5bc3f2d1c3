"""``store.lookup(sample_uid=42)``: one sample's state in every feature of the graph, and why.

One row per (feature, sample): stored or not, current, stale (which fields, and which upstream field
changed since the row was written), new, orphaned, failed. The columns are :data:`LOOKUP_SCHEMA`; the
web API and ``metaxy lookup`` render this frame as it is, so its columns only ever grow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from metaxy.constants import (
    DATA_VERSION_BY_FIELD,
    DELETED_AT,
    FEATURE_VERSION,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    UPDATED_AT,
)
from metaxy.exceptions import FeatureNotFoundError, VersioningError
from metaxy.models.fields import LineageKind
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.models.spec import FeatureDep
from metaxy.versioning.increment import Increment
from metaxy.versioning.lineage import versioning_keys

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

#: the columns of :meth:`MetadataStore.lookup`, in order (documented in docs/failures.md#lookup)
_COLUMNS: Final[dict[str, pl.DataType]] = {
    "feature": pl.String(),
    "sample": pl.String(),
    "stored": pl.Boolean(),
    "status": pl.String(),
    "stale_fields": pl.List(pl.String()),
    "reason": pl.String(),
    "feature_version": pl.String(),
    "provenance": pl.String(),
    "expected_provenance": pl.String(),
    "updated_at": pl.Datetime("us", "UTC"),
    "error_type": pl.String(),
    "error_message": pl.String(),
    "attempts": pl.Int64(),
}
LOOKUP_SCHEMA: Final = pl.Schema(_COLUMNS)

#: the values of the ``status`` column
STATUSES: Final = ("current", "stale", "new", "failed", "orphaned", "upstream-missing", "absent")


def lookup(store: MetadataStore, graph: FeatureGraph, ids: Mapping[str, Any]) -> pl.DataFrame:
    """The rows of :data:`LOOKUP_SCHEMA` for the samples matching ``ids`` in every feature keyed by them.

    A feature is looked at when some of its id columns are among ``ids`` (the others, when any, match
    every value: ``lookup(video_id="a")`` lists each of the video's frames); features keyed otherwise
    are left out.

    Raises:
        VersioningError: no feature of the graph has any of the given id columns.
    """
    if not ids:
        raise VersioningError(
            "lookup() needs at least one id value.", hint="e.g. store.lookup(sample_uid=42)."
        )
    rows: list[dict[str, Any]] = []
    keys = [k for k in graph.topological_order() if set(graph.spec(k).id_columns) & set(ids)]
    if not keys:
        known = sorted({c for k in graph.keys for c in graph.spec(k).id_columns})
        raise VersioningError(
            f"lookup({', '.join(f'{c}={v!r}' for c, v in ids.items())}): no feature has the id column(s) "
            f"{sorted(ids)}.",
            hint=f"Look up by the id columns of your features: {', '.join(known) or '(none defined)'}.",
        )
    typed = _typed(store, keys, ids)
    for key in keys:
        rows += _lookup_feature(store, graph.plan(key), typed)
    return pl.DataFrame(rows, schema=LOOKUP_SCHEMA, orient="row") if rows else LOOKUP_SCHEMA.to_frame()


def _typed(store: MetadataStore, keys: Sequence[FeatureKey], ids: Mapping[str, Any]) -> dict[str, Any]:
    """``ids`` converted to the type their column is stored with (``"42"`` from a command line
    matches an integer column, ``42`` a string column), found in the first feature storing each."""
    typed = dict(ids)
    todo = set(ids)
    for key in keys:
        try:
            schema = store.read_metadata(key, all_versions=True).collect_schema()
        except FeatureNotFoundError:
            continue
        for column in [c for c in todo if c in schema]:
            typed[column] = _convert(ids[column], schema[column], column)
            todo.discard(column)
    return typed


def _convert(value: Any, dtype: pl.DataType, column: str) -> Any:
    if value is None:
        return None
    try:
        return pl.Series([value]).cast(dtype, strict=True).item()
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        raise VersioningError(
            f"lookup: {column}={value!r} cannot be compared with the column {column!r} of type {dtype}.",
            hint=f"Give a value of type {dtype}.",
        ) from None


def _lookup_feature(store: MetadataStore, plan: FeaturePlan, ids: Mapping[str, Any]) -> list[dict[str, Any]]:
    id_columns = list(plan.spec.id_columns)
    given = {c: v for c, v in ids.items() if c in id_columns}
    exprs = [pl.col(c) == v for c, v in given.items()]
    stored = _stored(store, plan.key, exprs)
    keys = versioning_keys(plan)
    increment = _increment(store, plan, stored, [pl.col(c) == v for c, v in given.items() if c in keys])
    label = plan.key.to_string()
    if increment is None:  # an upstream is not materialized: nothing can be decided
        found = [_row(label, r, id_columns, "upstream-missing") for r in _records(stored)]
        reason = "an upstream has no metadata at its current feature version"
        return found or [_absent(label, given, "upstream-missing", reason)]
    result = []
    stale = {_ids(r, keys): r for r in increment.stale.iter_rows(named=True)}
    failed = {_ids(r, keys): r for r in increment.failed.iter_rows(named=True)}
    orphaned = {_ids(r, id_columns) for r in increment.orphaned.iter_rows(named=True)}
    for record in _records(stored):
        if _ids(record, id_columns) in orphaned:
            result.append(_row(label, record, id_columns, "orphaned"))
        elif (error := failed.pop(_ids(record, keys), None)) is not None:
            result.append(_failed(_stale_row(store, plan, label, record, error, id_columns), error))
        elif (expected := stale.get(_ids(record, keys))) is not None:
            result.append(_stale_row(store, plan, label, record, expected, id_columns))
        else:
            row = _row(label, record, id_columns, "current")
            row["expected_provenance"] = record.get(PROVENANCE)
            result.append(row)
    not_stored = [(r, "new") for r in increment.new.iter_rows(named=True)]
    for record, status in [*not_stored, *[(r, "failed") for r in failed.values()]]:
        row = _row(label, {}, id_columns, status)
        row["sample"] = _sample_text(record, [c for c in id_columns if c in record])
        row["expected_provenance"] = record.get(PROVENANCE)
        result.append(_failed(row, record) if status == "failed" else row)
    return result or [_absent(label, given, "absent", None)]


def _failed(row: dict[str, Any], error: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` as a failed sample: its latest error at the current provenance and the attempts."""
    row["status"] = "failed"
    row["error_type"], row["error_message"] = error.get("error_type"), error.get("error_message")
    row["attempts"] = error.get("attempts")
    return row


def _stored(store: MetadataStore, key: FeatureKey, exprs: Sequence[pl.Expr]) -> pl.DataFrame | None:
    """The latest live row (any feature version) of the matching samples stored in ``store`` itself."""
    try:
        lf = store.read_metadata(key, all_versions=True, allow_fallback=False, filters=list(exprs))
    except FeatureNotFoundError:
        return None
    return lf.collect()


def _increment(
    store: MetadataStore, plan: FeaturePlan, stored: pl.DataFrame | None, exprs: Sequence[pl.Expr]
) -> Increment[pl.DataFrame] | None:
    """The feature's increment restricted to the sample (``None``: an upstream is missing)."""
    samples = None
    if plan.is_root:  # a root feature's samples are the ones stored
        if stored is None:
            samples = pl.DataFrame(schema=dict.fromkeys(plan.spec.id_columns, pl.String))
            return Increment(samples, samples, samples)  # (a root's failures need its samples)
        samples = stored.select(*plan.spec.id_columns, PROVENANCE_BY_FIELD)
    try:
        return store.resolve_update(plan.key, samples=samples, filters=list(exprs) or None)
    except FeatureNotFoundError:
        return None


def _stale_row(
    store: MetadataStore,
    plan: FeaturePlan,
    label: str,
    record: Mapping[str, Any],
    expected: Mapping[str, Any],
    id_columns: list[str],
) -> dict[str, Any]:
    row = _row(label, record, id_columns, "stale")
    row["expected_provenance"] = expected.get(PROVENANCE)
    old, new = record.get(PROVENANCE_BY_FIELD) or {}, expected.get(PROVENANCE_BY_FIELD) or {}
    fields = [f for f in plan.fields if old.get(f.key.to_struct_name()) != new.get(f.key.to_struct_name())]
    row["stale_fields"] = [f.key.to_string() for f in fields]
    reasons = []
    if record.get(FEATURE_VERSION) != plan.feature_version:
        reasons.append(
            f"definition changed (feature version {record.get(FEATURE_VERSION)} -> {plan.feature_version})"
        )
    written = record.get(UPDATED_AT)
    for field in fields:
        changed = [
            p.label
            for p in field.parents
            if written is not None
            and _parent_changed(store, plan, p.feature, p.field.to_struct_name(), record, written)
        ]
        if changed:
            reasons.append(f"field {field.key.to_string()!r}: upstream {', '.join(changed)} changed")
    row["reason"] = "; ".join(reasons) or "provenance differs from the one stored"
    return row


def _parent_changed(
    store: MetadataStore,
    plan: FeaturePlan,
    upstream: FeatureKey,
    field: str,
    record: Mapping[str, Any],
    written: datetime,
) -> bool:
    """Whether the data versions of ``upstream``'s ``field`` this sample reads differ now from when
    ``record`` was written: the upstream's latest rows at that time against its current ones."""
    dep = plan.spec.dep(upstream)
    up_ids = list(plan.upstream[upstream].id_columns)
    exprs = [pl.col(column) == record.get(mine) for mine, column in _join_columns(plan, dep).items()]
    try:
        history = store.read_metadata(upstream, history=True, filters=exprs).collect()
        now = store.read_metadata(upstream, filters=exprs).collect()
    except FeatureNotFoundError:
        return False
    before = history.filter(pl.col(UPDATED_AT) <= written)
    if before.height:
        before = before.sort(UPDATED_AT).unique(up_ids, keep="last").filter(pl.col(DELETED_AT).is_null())
    return _versions(before, up_ids, field) != _versions(now, up_ids, field)


def _join_columns(plan: FeaturePlan, dep: FeatureDep) -> dict[str, str]:
    """This feature's columns matching upstream rows to a sample → the upstream's column names."""
    if dep.is_foreign_key:  # the sample's mapped columns point at the upstream's ids
        return dep.on_map
    mine = list(dep.lineage.on) if dep.lineage.kind is not LineageKind.IDENTITY else versioning_keys(plan)
    back = {new: old for old, new in dep.rename}
    return {c: back.get(c, c) for c in mine}


def _versions(frame: pl.DataFrame, up_ids: list[str], field: str) -> set[tuple[Any, ...]]:
    if not frame.height:
        return set()
    values = frame.select(*up_ids, pl.col(DATA_VERSION_BY_FIELD).struct.field(field).alias("__mx_v"))
    return set(values.iter_rows())


def _records(stored: pl.DataFrame | None) -> list[dict[str, Any]]:
    return [] if stored is None else list(stored.iter_rows(named=True))


def _ids(record: Mapping[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(record.get(c) for c in columns)


def _sample_text(record: Mapping[str, Any], columns: Sequence[str]) -> str:
    return json.dumps({c: record.get(c) for c in columns}, default=str)


def _row(label: str, record: Mapping[str, Any], id_columns: list[str], status: str) -> dict[str, Any]:
    return {
        "feature": label,
        "sample": _sample_text(record, id_columns) if record else None,
        "stored": bool(record),
        "status": status,
        "stale_fields": [],
        "reason": None,
        "feature_version": record.get(FEATURE_VERSION),
        "provenance": record.get(PROVENANCE),
        "expected_provenance": None,
        "updated_at": record.get(UPDATED_AT),
        "error_type": None,
        "error_message": None,
        "attempts": None,
    }


def _absent(label: str, given: Mapping[str, Any], status: str, reason: str | None) -> dict[str, Any]:
    row = _row(label, {}, [], status)
    row["sample"] = json.dumps(dict(given), default=str)
    row["reason"] = reason
    return row

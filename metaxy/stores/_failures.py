"""Failed samples: the append-only errors table beside each feature, and the ``failed`` part of an increment.

``write_errors`` appends one row per failed attempt (the sample's keys, the provenance it was attempted
for, the error). A sample to (re)compute whose latest attempt for its *current* provenance failed, after
its latest stored row, is moved from ``new``/``stale`` to ``failed`` unless a retry puts it back. A new
provenance finds no error, so it is eligible again; a success stores a row at that provenance, so the
sample leaves the increment altogether.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from metaxy.constants import (
    CREATED_AT,
    FEATURE_VERSION,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    SYSTEM_NAMESPACE,
    UPDATED_AT,
)
from metaxy.exceptions import SchemaError, VersioningError
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._read import ReadRequest
from metaxy.stores.schema_rule import TIMESTAMP
from metaxy.versioning.increment import Increment
from metaxy.versioning.lineage import versioning_keys
from metaxy.versioning.polars_engine import PolarsEngine

if TYPE_CHECKING:
    from metaxy.models.graph import FeatureGraph
    from metaxy.stores.base import MetadataStore

ERROR_TYPE: Final = "error_type"
ERROR_MESSAGE: Final = "error_message"
ERROR_TRACEBACK: Final = "error_traceback"
#: columns the ``failed`` part adds to the rows of ``new``/``stale``
ATTEMPTS: Final = "attempts"
LAST_ATTEMPT_AT: Final = "last_attempt_at"
FAILED_COLUMNS: Final = (ERROR_TYPE, ERROR_MESSAGE, ATTEMPTS, LAST_ATTEMPT_AT)
#: the columns of an empty ``read_errors`` (a store's table adds the sample keys first)
ERRORS_SCHEMA: Final = {
    PROVENANCE: pl.String(),
    FEATURE_VERSION: pl.String(),
    ERROR_TYPE: pl.String(),
    ERROR_MESSAGE: pl.String(),
    ERROR_TRACEBACK: pl.String(),
    CREATED_AT: TIMESTAMP,
}
_STORED_AT = "__mx_stored_at"


def errors_key(key: FeatureKey) -> FeatureKey:
    """The system table holding ``key``'s failed attempts (``metaxy_system/errors/<key parts>``)."""
    return FeatureKey([SYSTEM_NAMESPACE, "errors", *key.parts])


def is_errors_key(key: FeatureKey) -> bool:
    return len(key.parts) > 2 and key.parts[0] == SYSTEM_NAMESPACE and key.parts[1] == "errors"


@dataclass(frozen=True)
class RetryPolicy:
    """Which failed samples ``resolve_update(retry=...)`` puts back into ``new``/``stale``.

    Attributes:
        max_attempts: retry while fewer attempts than this failed for the current provenance
            (``None``: no limit).
        min_age: retry only once the latest attempt is at least this old (``None``: at once).
    """

    max_attempts: int | None = None
    min_age: timedelta | None = None

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise VersioningError(
                f"RetryPolicy(max_attempts={self.max_attempts}): at least 1 attempt is needed.",
                hint="Pass max_attempts=3 to give a sample three tries, or None for no limit.",
            )

    def eligible(self, now: datetime) -> pl.Expr:
        """True for failed rows (``attempts``, ``last_attempt_at``) this policy retries at ``now``."""
        ok = pl.lit(True)
        if self.max_attempts is not None:
            ok = ok & (pl.col(ATTEMPTS) < self.max_attempts)
        if self.min_age is not None:
            ok = ok & (pl.col(LAST_ATTEMPT_AT) <= pl.lit(now - self.min_age, TIMESTAMP))
        return ok


def error_rows(
    store: MetadataStore,
    plan: FeaturePlan,
    graph: FeatureGraph,
    frame: pl.DataFrame,
    error: BaseException | None,
) -> pl.DataFrame:
    """The errors-table rows for ``frame`` (the failed samples): keys, provenance, feature version, error."""
    where = store._where(plan.key)
    keys = versioning_keys(plan)
    missing = [c for c in keys if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{where}: write_errors needs the sample key column(s) {missing}.",
            hint="Pass the failed rows of resolve_update(...).new / .stale (they carry the keys).",
        )
    if error is not None:
        text = "".join(traceback.format_exception(error))
        frame = frame.with_columns(
            pl.lit(_error_name(error)).alias(ERROR_TYPE),
            pl.lit(str(error)).alias(ERROR_MESSAGE),
            pl.lit(text).alias(ERROR_TRACEBACK),
        )
    if ERROR_TYPE not in frame.columns:
        raise SchemaError(
            f"{where}: write_errors needs an {ERROR_TYPE!r} column, or error=the exception.",
            hint="e.g. store.write_errors(Feature, failed_rows, error=exc).",
        )
    frame = _with_provenance(store, plan, graph, frame, keys)
    now = store._now()
    optional = [c for c in (ERROR_MESSAGE, ERROR_TRACEBACK) if c in frame.columns]
    return frame.select(
        *keys,
        pl.col(PROVENANCE).cast(pl.String),
        pl.lit(plan.feature_version).alias(FEATURE_VERSION),
        pl.col(ERROR_TYPE).cast(pl.String),
        *[pl.col(c).cast(pl.String) for c in optional],
        *[pl.lit(None, pl.String).alias(c) for c in (ERROR_MESSAGE, ERROR_TRACEBACK) if c not in optional],
        pl.lit(now, TIMESTAMP).alias(CREATED_AT),
    )


def _error_name(error: BaseException) -> str:
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _with_provenance(
    store: MetadataStore, plan: FeaturePlan, graph: FeatureGraph, frame: pl.DataFrame, keys: list[str]
) -> pl.DataFrame:
    """``frame`` with the provenance each sample was attempted for (given, or the current expected one)."""
    if PROVENANCE in frame.columns:
        return frame
    if PROVENANCE_BY_FIELD in frame.columns:
        return PolarsEngine(store.hash_settings).with_provenance(frame.lazy(), plan).collect()
    if plan.is_root:
        raise SchemaError(
            f"{store._where(plan.key)}: a root feature's failed samples need their "
            f"{PROVENANCE_BY_FIELD!r} (or {PROVENANCE!r}).",
            hint="Pass the samples as you would pass them to resolve_update(samples=...).",
        )
    expected = store.expected_samples(plan, graph).select(*keys, PROVENANCE).collect()
    found = frame.join(expected, on=keys, how="left")
    unknown = found.filter(pl.col(PROVENANCE).is_null())
    if unknown.height:
        raise SchemaError(
            f"{store._where(plan.key)}: {unknown.height} failed sample(s) are not samples of the feature "
            f"(no upstream row), e.g. {unknown.select(keys).row(0, named=True)}.",
            hint="Record errors for the samples resolve_update returned.",
        )
    return found


def read_errors(store: MetadataStore, key: FeatureKey) -> pl.LazyFrame | None:
    """Every recorded failed attempt of ``key`` in ``store`` (not its fallbacks), or None."""
    return store._scan(errors_key(key))


def with_failed(
    store: MetadataStore,
    plan: FeaturePlan,
    increment: Increment[Any],
    *,
    retry: RetryPolicy | None,
    lazy: bool,
) -> Increment[Any]:
    """``increment`` with the samples whose latest attempt at their current provenance failed moved
    from ``new``/``stale`` to ``failed`` (unless ``retry`` puts them back)."""
    errors = read_errors(store, plan.key)
    if errors is None:
        return _done(increment, _empty_failed(increment.new.lazy()), lazy)
    keys = versioning_keys(plan)
    failures = _failures(store, plan, errors, keys)
    blocked = failures if retry is None else failures.filter(~retry.eligible(store._now()))
    new, stale = increment.new.lazy(), increment.stale.lazy()
    failed = pl.concat([_failed_part(part, failures, keys) for part in (new, stale)], how="diagonal_relaxed")
    out = [_not_blocked(part, blocked, keys) for part in (new, stale)]
    if retry is not None:  # the retried samples are back in new/stale: failed lists the others
        failed = failed.join(_keyed(blocked, keys, part=new), on=[*keys, PROVENANCE], how="semi")
    return _done(Increment(out[0], out[1], increment.orphaned, failed), None, lazy)


def _failures(store: MetadataStore, plan: FeaturePlan, errors: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """Per (sample keys, provenance): attempts, latest attempt time and error, counted only when later
    than the sample's latest stored row (a success written after an error clears it)."""
    ordered = errors.sort(CREATED_AT)
    failures = ordered.group_by([*keys, PROVENANCE]).agg(
        pl.col(ERROR_TYPE).last(),
        pl.col(ERROR_MESSAGE).last(),
        pl.len().cast(pl.Int64).alias(ATTEMPTS),
        pl.col(CREATED_AT).max().cast(TIMESTAMP).alias(LAST_ATTEMPT_AT),
    )
    written = with_stored_at(store, plan, failures, keys)
    return written.filter(not_cleared(LAST_ATTEMPT_AT)).drop(_STORED_AT)


def with_stored_at(
    store: MetadataStore, plan: FeaturePlan, frame: pl.LazyFrame, keys: list[str]
) -> pl.LazyFrame:
    """``frame`` with the time of each sample's latest stored row (null when it has none)."""
    stored = store._read_rows(ReadRequest(plan.key, tuple(plan.spec.id_columns)))
    if stored is None:
        return frame.with_columns(pl.lit(None, TIMESTAMP).alias(_STORED_AT))
    written = stored.group_by(keys).agg(pl.col(UPDATED_AT).max().cast(TIMESTAMP).alias(_STORED_AT))
    written = written.with_columns(pl.col(k).cast(frame.collect_schema()[k]) for k in keys)
    return frame.join(written, on=keys, how="left")


def not_cleared(last_attempt: str) -> pl.Expr:
    """True where the attempts of a (sample, provenance) still count: the last one came after the
    sample's latest stored row (a success written after an error clears it)."""
    return pl.col(_STORED_AT).is_null() | (pl.col(last_attempt) > pl.col(_STORED_AT))


def _keyed(failures: pl.LazyFrame, keys: list[str], *, part: pl.LazyFrame) -> pl.LazyFrame:
    """``failures``' keys and provenance, typed like ``part``'s (stores may read ids back wider)."""
    schema = part.collect_schema()
    return failures.select(
        *[pl.col(k).cast(schema[k]) if k in schema else pl.col(k) for k in keys], pl.col(PROVENANCE)
    )


def _failed_part(part: pl.LazyFrame, failures: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    schema = part.collect_schema()
    typed = failures.with_columns(pl.col(k).cast(schema[k]) for k in keys if k in schema)
    return part.join(typed.select(*keys, PROVENANCE, *FAILED_COLUMNS), on=[*keys, PROVENANCE], how="inner")


def _not_blocked(part: pl.LazyFrame, blocked: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    return part.join(_keyed(blocked, keys, part=part), on=[*keys, PROVENANCE], how="anti")


def _empty_failed(new: pl.LazyFrame) -> pl.LazyFrame:
    return new.clear().with_columns(
        pl.lit(None, pl.String).alias(ERROR_TYPE),
        pl.lit(None, pl.String).alias(ERROR_MESSAGE),
        pl.lit(None, pl.Int64).alias(ATTEMPTS),
        pl.lit(None, TIMESTAMP).alias(LAST_ATTEMPT_AT),
    )


def _done(increment: Increment[Any], failed: pl.LazyFrame | None, lazy: bool) -> Increment[Any]:
    parts: Sequence[Any] = (increment.new, increment.stale, increment.orphaned)
    done = failed if failed is not None else increment.failed
    if lazy:
        return Increment(parts[0].lazy(), parts[1].lazy(), parts[2].lazy(), done.lazy())
    if failed is not None and all(isinstance(p, pl.DataFrame) for p in parts):
        return replace(increment, failed=failed.collect())
    new, stale, orphaned, failed_frame = pl.collect_all([p.lazy() for p in (*parts, done)])
    return Increment(new, stale, orphaned, failed_frame)


def copy_errors(target: MetadataStore, source: MetadataStore, key: FeatureKey) -> int:
    """Append to ``target`` the failed attempts of ``key`` recorded in ``source`` that it lacks."""
    table = errors_key(key)
    rows = source._scan(table)
    if rows is None:
        return 0
    frame = rows.collect()
    held = target._scan(table)
    if held is not None and frame.height:
        on = [c for c in frame.columns if c != ERROR_TRACEBACK and c in held.collect_schema()]
        known = held.select(on).collect()
        known = known.with_columns(known[c].cast(frame.schema[c]) for c in on)
        frame = frame.join(known, on=on, how="anti", nulls_equal=True)
    if frame.height:
        target._append(table, target._conform(table, frame))
    return frame.height


def features_with_errors(store: MetadataStore) -> list[FeatureKey]:
    """The features ``store`` holds an errors table for (some may have no stored row at all)."""
    return [FeatureKey(list(k.parts[2:])) for k in store._list_keys() if is_errors_key(k)]

"""Driving one resolution for a store: find each upstream in the fallback chain once, choose the
engine, read the stored frames and hand them to the engine's one entry point.

Everything here goes through the store contract (``_holds``, ``_read_rows``, ``_resolve_native``);
the engines themselves live in :mod:`metaxy.versioning` and never see a store.
"""

from __future__ import annotations

import contextvars
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from metaxy.constants import (
    CREATED_AT,
    DATA_VERSION,
    FEATURE_VERSION,
    MATERIALIZATION_ID,
    PROJECT_VERSION,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
)
from metaxy.exceptions import (
    FeatureNotFoundError,
    MissingSamplesError,
    MissingUpstreamWarning,
    PolarsFallbackWarning,
    VersioningError,
)
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._empty import conform_empty, empty_columns, is_marked_empty
from metaxy.stores._orphans import with_orphans_in_full
from metaxy.stores._ranges import id_ranges
from metaxy.stores._read import ReadRequest, check_filter_columns
from metaxy.versioning.frames import check_by_field, check_ids, to_polars
from metaxy.versioning.increment import Increment
from metaxy.versioning.polars_engine import PolarsEngine

if TYPE_CHECKING:
    from metaxy.stores._types import EngineChoice
    from metaxy.stores.base import MetadataStore

_ENGINES = ("auto", "native", "polars")
#: system columns of an upstream's rows that versioning never reads: it reads the data versions by
#: field, the ids and join keys, and the user columns it carries
_UNREAD_UPSTREAM = frozenset(
    {PROVENANCE_BY_FIELD, PROVENANCE, DATA_VERSION, CREATED_AT, PROJECT_VERSION, MATERIALIZATION_ID}
)


@dataclass(frozen=True)
class Holder:
    """Where an upstream was found: the store, and whether it was materialized there with no row."""

    store: MetadataStore
    empty: bool


def check_engine_choice(choice: str) -> EngineChoice:
    """``choice`` if it names an engine (``versioning_engine=``).

    Raises:
        VersioningError: it does not.
    """
    if choice not in _ENGINES:
        raise VersioningError(
            f"versioning_engine={choice!r} is not an engine.", hint="Use 'auto', 'native' or 'polars'."
        )
    return cast("EngineChoice", choice)


def check_native_engine(store: MetadataStore) -> None:
    """Refuse ``versioning_engine="native"`` on a store that cannot compute its hash itself.

    Raises:
        VersioningError: naming the store and the hash algorithm.
    """
    if store.versioning_engine == "native" and not store.supports_native_versioning():
        raise VersioningError(
            f"{store.name} cannot compute {store.hash_settings.algorithm.value} natively.",
            hint="Use versioning_engine='auto' or 'polars', or a hash algorithm the store supports.",
        )


def resolve_increment(
    store: MetadataStore,
    plan: FeaturePlan,
    graph: FeatureGraph,
    *,
    samples: Any = None,
    filters: Sequence[pl.Expr] = (),
    lazy: bool = False,
) -> Increment[Any]:
    """The increment of ``plan``'s feature in ``store``; every feature version comes from ``graph``."""
    given = None if samples is None else _samples_frame(store, plan, samples)
    if given is None and plan.is_root:
        raise MissingSamplesError(
            f"Feature {plan.key.to_string()!r} is a root feature (no upstream), so its samples are unknown.",
            hint="Pass samples= with the id columns and a metaxy_provenance_by_field struct.",
        )
    holders = {} if given is not None else locate_upstream(store, plan, graph)
    if filters:
        _check_filters(store, plan, filters, holders, given)
    versions = {key: graph.feature_version(key) for key in holders}
    if holders and any(dep.is_foreign_key for dep in plan.spec.deps):
        report_missing_foreign_keys(store, plan, _read_upstream(plan, holders, versions))
    if holders and _use_native(store, plan, holders):
        increment = store._resolve_native(plan, versions, filters, lazy=lazy)
        if increment is not None:
            return increment
    engine = PolarsEngine(store.hash_settings)
    ranges = [] if lazy or given is not None else id_ranges(store, plan, _holding_stores(holders))
    if ranges:
        return _resolve_ranges(store, plan, holders, versions, engine, filters, ranges)
    current = store._read_rows(ReadRequest(plan.key, tuple(plan.spec.id_columns), prune=tuple(filters)))
    upstream = _read_upstream(plan, holders, versions)
    if lazy:
        return engine.resolve(plan, current, upstream=upstream, samples=given, filters=filters, lazy=True)
    # by ranges (above), two ranges are in flight already; here the stored rows may take the other core
    beside = store.reads_side_by_side()
    increment = engine.resolve(
        plan,
        current,
        upstream=upstream,
        samples=given,
        filters=filters,
        stored_beside_upstream=beside,
        full_orphans=False,
    )
    if current is None:
        return increment
    return with_orphans_in_full(store, plan, filters, increment, current=current)


def _resolve_ranges(
    store: MetadataStore,
    plan: FeaturePlan,
    holders: Mapping[FeatureKey, Holder],
    versions: Mapping[FeatureKey, str],
    engine: PolarsEngine,
    filters: Sequence[pl.Expr],
    ranges: Sequence[pl.Expr],
) -> Increment[pl.DataFrame]:
    """The increments of ``ranges`` (from :func:`id_ranges`) put together, two ranges in flight: one
    range's rows are read (the store serializes its queries) while the range before it is hashed.
    Each range runs in a copy of the caller's context (the active graph)."""
    ids = tuple(plan.spec.id_columns)
    context = contextvars.copy_context()

    def resolve(id_range: pl.Expr) -> Increment[pl.DataFrame]:
        request = ReadRequest(plan.key, ids, filters=(id_range,), prune=(*filters, id_range))
        upstream = _read_upstream(plan, holders, versions, id_range=id_range)
        current = store._read_rows(request)
        increment = engine.resolve(plan, current, upstream=upstream, filters=filters, full_orphans=False)
        if current is None:
            return increment
        return with_orphans_in_full(store, plan, (*filters, id_range), increment, current=current)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="metaxy-range") as pool:
        parts = list(pool.map(lambda id_range: context.copy().run(resolve, id_range), ranges))
    return Increment(*(pl.concat(frames) for frames in zip(*parts, strict=True)))


def _holding_stores(holders: Mapping[FeatureKey, Holder]) -> dict[FeatureKey, MetadataStore]:
    """The store each upstream is read from (an upstream written empty: none to read, left out)."""
    return {key: holder.store for key, holder in holders.items() if not holder.empty}


def report_missing_foreign_keys(
    store: MetadataStore, plan: FeaturePlan, upstream: Mapping[FeatureKey, pl.LazyFrame]
) -> None:
    """Warn about samples a foreign key leaves without an upstream row (they are not resolved)."""
    missing = PolarsEngine(store.hash_settings).missing_foreign_keys(plan, upstream)
    for key, samples in missing.items():
        dep = plan.spec.dep(key)
        examples = ", ".join(str(r) for r in samples.head(3).to_dicts())
        warnings.warn(
            f"{store._where(plan.key)}: {samples.height} sample(s) point at no row of {key.to_string()!r} "
            f"through on={dep.on_map} (a null or unknown key), e.g. {examples}; they are left out of "
            f"the increment. Hint: write the missing {key.to_string()!r} rows, fix the keys, or declare "
            f'the dependency optional=True (a missing row then contributes "").',
            MissingUpstreamWarning,
            stacklevel=4,
        )


def expected_samples(store: MetadataStore, plan: FeaturePlan, graph: FeatureGraph) -> pl.LazyFrame:
    """The samples ``plan``'s upstream (read through ``store``'s fallback chain) expects, with provenance."""
    holders = locate_upstream(store, plan, graph)
    versions = {key: graph.feature_version(key) for key in holders}
    current = None
    if not holders:  # type the (empty) keys like the stored rows when there are any
        current = store._read_rows(ReadRequest.history(plan.key))
    engine = PolarsEngine(store.hash_settings)
    return engine.expected(plan, _read_upstream(plan, holders, versions), current=current)


def locate_upstream(store: MetadataStore, plan: FeaturePlan, graph: FeatureGraph) -> dict[FeatureKey, Holder]:
    """The first store of the chain holding each dependency at its current version (one probe each).

    A missing optional dependency is left out; a missing required one raises.

    Raises:
        FeatureNotFoundError: a required upstream has no rows at its current feature version.
    """
    found: dict[FeatureKey, Holder] = {}
    for dep in plan.spec.deps:
        holder = _holder(store, dep.feature, graph.feature_version(dep.feature))
        if holder is not None:
            found[dep.feature] = holder
        elif not dep.optional:
            raise _upstream_missing(store, plan, dep.feature)
    return found


def _holder(store: MetadataStore, key: FeatureKey, version: str) -> Holder | None:
    """The first store of the chain with rows of ``key`` at ``version``, else the first that wrote it empty."""
    chain = list(store._chain())
    for candidate in chain:
        if candidate._holds(key, version):
            return Holder(candidate, empty=False)
    for candidate in chain:
        if is_marked_empty(candidate, key, version):
            return Holder(candidate, empty=True)
    return None


def _read_upstream(
    plan: FeaturePlan,
    holders: Mapping[FeatureKey, Holder],
    versions: Mapping[FeatureKey, str],
    *,
    id_range: pl.Expr | None = None,
) -> dict[FeatureKey, pl.LazyFrame]:
    frames = {}
    for key, holder in holders.items():
        ids = tuple(plan.upstream[key].id_columns)
        request = ReadRequest(
            key,
            ids,
            feature_version=versions[key],
            filters=() if id_range is None else (id_range,),
            unread=_unread_upstream(plan, key),
        )
        rows = holder.store._read_rows(request)
        if rows is None or holder.empty:
            rows = conform_empty(rows, plan.upstream[key])
        frames[key] = rows
    return frames


def _unread_upstream(plan: FeaturePlan, key: FeatureKey) -> frozenset[str]:
    """The system columns of ``key``'s rows that resolving ``plan`` does not read (what its filters,
    renames and carried columns name is read)."""
    dep = plan.spec.dep(key)
    named = {name for expr in dep.filters for name in expr.meta.root_names()}
    named |= set(dep.rename_map) | set(dep.columns or ())
    return _UNREAD_UPSTREAM - named


def _check_filters(
    store: MetadataStore,
    plan: FeaturePlan,
    filters: Sequence[pl.Expr],
    holders: Mapping[FeatureKey, Holder],
    given: pl.LazyFrame | None,
) -> None:
    """Refuse filters naming a column neither the samples, the upstream rows (renamed) nor the stored
    rows of the feature have, before either engine runs (an upstream written empty with no table: its ids
    and system columns)."""
    known = set(plan.spec.id_columns) | set(store._stored_columns(plan.key) or ())
    if given is not None:
        known |= set(given.collect_schema().names())
    for dep in plan.spec.deps:
        holder = holders.get(dep.feature)
        if holder is None:
            continue
        columns = holder.store._stored_columns(dep.feature)
        if columns is None:
            columns = empty_columns(plan.upstream[dep.feature])
        known |= {dep.rename_map.get(c, c) for c in columns}
    check_filter_columns(filters, known, where=store._where(plan.key))


def _samples_frame(store: MetadataStore, plan: FeaturePlan, samples: Any) -> pl.LazyFrame:
    where = f"samples for feature {plan.key.to_string()!r}"
    frame = to_polars(samples, where=f"{store._where(plan.key)}, samples=")
    check_ids(frame, plan.spec, where=where)
    check_by_field(frame, plan, where=where)
    return frame.lazy()


def _use_native(store: MetadataStore, plan: FeaturePlan, holders: Mapping[FeatureKey, Holder]) -> bool:
    """Whether to version ``plan`` in ``store``'s engine: yes unless an upstream lives in a fallback."""
    if store.versioning_engine == "polars" or not store.supports_native_versioning():
        return False
    elsewhere = [key.to_string() for key, holder in holders.items() if holder.store is not store]
    if not elsewhere:
        return True
    if store.versioning_engine == "native":
        raise VersioningError(
            f"Feature {plan.key.to_string()!r}: upstream {', '.join(elsewhere)} lives in a fallback "
            f"store, so {store.name} cannot version it natively.",
            hint="Copy the upstream metadata into this store, or use versioning_engine='auto'.",
        )
    store._operation_log.warn_once(
        plan.key.to_string(),
        f"{plan.key.to_string()}: upstream {', '.join(elsewhere)} read from a fallback store; "
        "computing versions with Polars (warned once per store and feature).",
        PolarsFallbackWarning,
    )
    return False


def _upstream_missing(store: MetadataStore, plan: FeaturePlan, upstream: FeatureKey) -> FeatureNotFoundError:
    """The error for a required upstream with no rows at its current version, naming older rows."""
    chain = ", ".join(s.name for s in store._chain())
    message = (
        f"Cannot resolve {plan.key.to_string()!r}: its upstream {upstream.to_string()!r} has no metadata "
        f"at its current feature version in {chain}."
    )
    older = _rows_by_version(store, plan, upstream)
    if not older:
        hint = f"Materialize {upstream.to_string()!r} first (resolve_update + write_metadata)."
        return FeatureNotFoundError(message, hint=hint)
    found = "; ".join(f"{n} row(s) under feature version {v} in {where}" for where, v, n in older)
    return FeatureNotFoundError(
        f"{message} It has rows only under older feature versions: {found}.",
        hint=f"Re-materialize {upstream.to_string()!r} at its current definition (resolve_update + "
        "write_metadata), or, if only its code version changed and the outputs did not, run "
        "`metaxy migrate` first.",
    )


def _rows_by_version(
    store: MetadataStore, plan: FeaturePlan, upstream: FeatureKey
) -> list[tuple[str, str, int]]:
    """(store name, feature version, latest rows) of ``upstream`` in the chain, any version."""
    ids = tuple(plan.upstream[upstream].id_columns)
    found = []
    for candidate in store._chain():
        rows = candidate._read_rows(ReadRequest(upstream, ids))
        if rows is None:
            continue
        counts = rows.group_by(FEATURE_VERSION).len().sort(FEATURE_VERSION).collect()
        found += [(candidate.name, str(v), int(n)) for v, n in counts.iter_rows()]
    return found

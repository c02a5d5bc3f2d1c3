"""Driving one resolution for a store: find each upstream in the fallback chain once, choose the
engine, read the stored frames and hand them to the engine's one entry point.

Everything here goes through the store contract (``_holds``, ``_read_rows``, ``_resolve_native``);
the engines themselves live in :mod:`metaxy.versioning` and never see a store.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from metaxy.exceptions import (
    FeatureNotFoundError,
    MissingSamplesError,
    PolarsFallbackWarning,
    VersioningError,
)
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._read import ReadRequest
from metaxy.versioning.frames import check_by_field, check_ids, to_polars
from metaxy.versioning.increment import Increment
from metaxy.versioning.polars_engine import PolarsEngine

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore


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
    versions = {key: graph.feature_version(key) for key in holders}
    if holders and _use_native(store, plan, holders):
        increment = store._resolve_native(plan, versions, filters, lazy=lazy)
        if increment is not None:
            return increment
    current = store._read_rows(ReadRequest(plan.key, tuple(plan.spec.id_columns)))
    upstream = _read_upstream(plan, holders, versions)
    engine = PolarsEngine(store.hash_settings)
    if lazy:
        return engine.resolve(plan, current, upstream=upstream, samples=given, filters=filters, lazy=True)
    return engine.resolve(plan, current, upstream=upstream, samples=given, filters=filters)


def expected_samples(store: MetadataStore, plan: FeaturePlan, graph: FeatureGraph) -> pl.LazyFrame:
    """The samples ``plan``'s upstream (read through ``store``'s fallback chain) expects, with provenance."""
    holders = locate_upstream(store, plan, graph)
    versions = {key: graph.feature_version(key) for key in holders}
    current = None
    if not holders:  # type the (empty) keys like the stored rows when there are any
        current = store._read_rows(ReadRequest.history(plan.key))
    engine = PolarsEngine(store.hash_settings)
    return engine.expected(plan, _read_upstream(plan, holders, versions), current=current)


def locate_upstream(
    store: MetadataStore, plan: FeaturePlan, graph: FeatureGraph
) -> dict[FeatureKey, MetadataStore]:
    """The first store of the chain holding each dependency at its current version (one probe each).

    A missing optional dependency is left out; a missing required one raises.

    Raises:
        FeatureNotFoundError: a required upstream has no rows at its current feature version.
    """
    found: dict[FeatureKey, MetadataStore] = {}
    for dep in plan.spec.deps:
        version = graph.feature_version(dep.feature)
        holder = next((s for s in store._chain() if s._holds(dep.feature, version)), None)
        if holder is not None:
            found[dep.feature] = holder
        elif not dep.optional:
            raise _upstream_missing(store, plan, dep.feature)
    return found


def _read_upstream(
    plan: FeaturePlan, holders: Mapping[FeatureKey, MetadataStore], versions: Mapping[FeatureKey, str]
) -> dict[FeatureKey, pl.LazyFrame]:
    frames = {}
    for key, holder in holders.items():
        ids = tuple(plan.upstream[key].id_columns)
        rows = holder._read_rows(ReadRequest(key, ids, feature_version=versions[key]))
        assert rows is not None  # the holder holds rows of this version
        frames[key] = rows
    return frames


def _samples_frame(store: MetadataStore, plan: FeaturePlan, samples: Any) -> pl.LazyFrame:
    where = f"samples for feature {plan.key.to_string()!r}"
    frame = to_polars(samples, where=f"{store._where(plan.key)}, samples=")
    check_ids(frame, plan.spec, where=where)
    check_by_field(frame, plan, where=where)
    return frame.lazy()


def _use_native(store: MetadataStore, plan: FeaturePlan, holders: Mapping[FeatureKey, MetadataStore]) -> bool:
    """Whether to version ``plan`` in ``store``'s engine: yes unless an upstream lives in a fallback."""
    if store.versioning_engine == "polars" or not store.supports_native_versioning():
        return False
    elsewhere = [key.to_string() for key, holder in holders.items() if holder is not store]
    if not elsewhere:
        return True
    if store.versioning_engine == "native":
        raise VersioningError(
            f"Feature {plan.key.to_string()!r}: upstream {', '.join(elsewhere)} lives in a fallback "
            f"store, so {store.name} cannot version it natively.",
            hint="Copy the upstream metadata into this store, or use versioning_engine='auto'.",
        )
    warnings.warn(
        f"{plan.key.to_string()}: upstream {', '.join(elsewhere)} read from a fallback store; "
        "computing versions with Polars.",
        PolarsFallbackWarning,
        stacklevel=5,
    )
    return False


def _upstream_missing(store: MetadataStore, plan: FeaturePlan, upstream: FeatureKey) -> FeatureNotFoundError:
    chain = ", ".join(s.name for s in store._chain())
    return FeatureNotFoundError(
        f"Cannot resolve {plan.key.to_string()!r}: its upstream {upstream.to_string()!r} has no metadata "
        f"at its current feature version in {chain}.",
        hint=f"Materialize {upstream.to_string()!r} first (resolve_update + write_metadata).",
    )

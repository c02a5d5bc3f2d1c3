"""Data versions that mean something: the store's provenance digest of a feature (or of a slice of
it), so Dagster's staleness agrees with metaxy's; and observable source assets for root features."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
import polars as pl

from metaxy.exceptions import FeatureNotFoundError
from metaxy.integrations.dagster.resources import STORE_RESOURCE_KEY
from metaxy.integrations.dagster.specs import asset_key, feature_key_of, feature_metadata
from metaxy.models.feature import FeatureLike
from metaxy.models.graph import FeatureGraph
from metaxy.stores.base import MetadataStore
from metaxy.versioning.digest import DigestSums

#: the digest of a feature with no stored sample (also what an empty materialization reports)
EMPTY_DIGEST = DigestSums(0, 0, 0).render()


def data_version(
    store: MetadataStore, feature: FeatureLike, *, filters: Iterable[pl.Expr] = ()
) -> dg.DataVersion:
    """The feature's data version: :meth:`~metaxy.MetadataStore.provenance_digest` of its stored
    samples (those matching ``filters``); unchanged samples give an unchanged version."""
    try:
        return dg.DataVersion(store.provenance_digest(feature, filters=list(filters)))
    except FeatureNotFoundError:
        return dg.DataVersion(EMPTY_DIGEST)


def observable_feature(
    feature: FeatureLike,
    *,
    store_key: str = STORE_RESOURCE_KEY,
    prefix: Sequence[str] = (),
    group_name: str | None = None,
) -> dg.SourceAsset:
    """An observable source asset for a (root) feature written outside Dagster.

    Observing it reports the same data version a materialization would (the provenance digest),
    without computing anything, so assets downstream turn stale only when its samples changed.
    """
    key = feature_key_of(feature)
    graph = feature.graph() if hasattr(feature, "graph") else FeatureGraph.get_active()
    spec = graph.spec(key)

    def observe(context: Any) -> dg.DataVersion:
        store: MetadataStore = getattr(context.resources, store_key)
        return data_version(store, key)

    with warnings.catch_warnings():  # observable source assets are a Dagster beta: fine for us
        warnings.simplefilter("ignore")
        return dg.observable_source_asset(
            key=asset_key(key, prefix=prefix),
            description=spec.description,
            metadata=feature_metadata(key, graph, prefix=prefix),
            group_name=group_name,
            required_resource_keys={store_key},
        )(observe)

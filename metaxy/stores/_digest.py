"""``provenance_digest``: the digest of :mod:`metaxy.versioning.digest` over the rows a read returns,
answered by the first store of the chain holding the feature (natively when that store can)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.stores._read import Filters, ReadRequest, as_filters, first_holder
from metaxy.versioning.digest import DigestSums

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

NO_SAMPLES = DigestSums(0, 0, 0)


def stored_digest(store: MetadataStore, feature: FeatureLike, filters: Filters) -> str:
    """The digest of ``store.read_metadata(feature, filters=filters)``'s rows, without reading them."""
    key, graph = resolve_feature(feature)
    request = ReadRequest(
        key,
        tuple(graph.spec(key).id_columns),
        feature_version=graph.feature_version(key),
        filters=as_filters(filters, where=store._where(key)),
    )
    holder, holds = first_holder(store._chain(), request, graph.spec(key))
    return (holder._digest_sums(request) if holds else NO_SAMPLES).render()  # not holds: an empty write

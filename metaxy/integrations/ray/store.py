"""``RayMetadataStore``: version a Ray dataset's samples in the workers and write them through the sink."""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from metaxy.integrations._worker import FeatureRef, StoreRef, version_block
from metaxy.integrations.ray.datasink import MetaxyDatasink, WriteReport


class RayMetadataStore:
    """A store seen from a Ray job: the workers build their own copy of it from ``store``.

    Args:
        store: the store's name in ``metaxy.toml``, or a zero-argument factory returning a store.
    """

    def __init__(self, store: Any) -> None:
        self._store = StoreRef.of(store, where="RayMetadataStore")

    def calculate_and_write_data_versions(
        self, feature: Any, dataset: Any, *, continue_on_error: bool = False
    ) -> WriteReport:
        """Attach each sample's versions (computed from upstream, per block in the workers) and write them.

        ``dataset`` holds the feature's samples (ids and its own columns; a root feature's rows carry
        ``metaxy_provenance_by_field``). Returns what the write did.

        Raises:
            SchemaError: a sample has no upstream rows (nothing is written for its block).
        """
        ref = FeatureRef.of(feature, where="RayMetadataStore")
        versioned = dataset.map_batches(_version, fn_args=(self._store, ref), batch_format="pyarrow")
        sink = MetaxyDatasink(feature, self._store.spec, continue_on_error=continue_on_error)
        versioned.write_datasink(sink)
        return sink.report


def _version(batch: pa.Table, store_ref: StoreRef, feature_ref: FeatureRef) -> pa.Table:
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    with feature_ref.active(), store_ref.opened(read_only=True) as store:
        return version_block(store, feature_ref.key, frame).to_arrow()

"""What every store says about partitions: its layout, the files a read opens, and the advisor.

:class:`StorePartitionsAPI` is mixed into :class:`~metaxy.stores.base.MetadataStore`; partitioned
stores (Delta, Iceberg) override the layout and file counts, the advisor's rule lives in
:mod:`metaxy.stores._partition_advice`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from metaxy.constants import PREFIX
from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.models.keys import FeatureKey
from metaxy.stores._partition_advice import DEFAULT_TARGET_FILE_BYTES, advise_partitions
from metaxy.versioning.frames import FrameLike, to_polars


class StorePartitionsAPI:
    """Partition layout, pruning counts and the partition advisor."""

    if TYPE_CHECKING:  # provided by MetadataStore

        def require_open(self) -> None: ...
        def _where(self, key: FeatureKey) -> str: ...
        def _count(self, key: FeatureKey) -> int: ...

    def partition_columns(self, feature: FeatureLike) -> list[str]:
        """The columns the feature's stored table is partitioned by, outermost first (``[]``: none,
        or a store without partitions)."""
        return []

    def partition_files(
        self, feature: FeatureLike, *, filters: Any = None, shard: Any = None
    ) -> tuple[int, int] | None:
        """``(files a read with these filters opens, files of the table)``; None when the store has no
        data files to count."""
        return None

    def recent_filter_columns(self) -> Counter[str]:
        """How often recent reads and resolutions filtered on each column (empty unless the store
        records them, as :class:`~metaxy.stores.wrappers.instrumented.InstrumentedMetadataStore` does)."""
        return Counter()

    def analyze_partition_strategy(
        self,
        feature: FeatureLike,
        sample_df: FrameLike,
        *,
        total_rows: int | None = None,
        target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
    ) -> list[str]:
        """The partition columns recommended for ``feature``, outermost first (``[]``: do not partition).

        The rule (:mod:`metaxy.stores._partition_advice`, ``docs/partitioning.md``): enough rows per
        partition to fill a ``target_file_bytes`` file, the columns recent reads filtered on first
        (when recorded), coarse before fine; a timestamp column comes back as ``"column:grain"``
        (use it as ``time_partitioning=("column", "grain")``).

        Args:
            sample_df: representative rows of the feature (any number; cardinalities come from it).
            total_rows: rows the table holds or will hold; default: the stored rows, at least the sample's.
        """
        self.require_open()
        key, graph = resolve_feature(feature)
        sample = to_polars(sample_df, where=self._where(key))
        rows = total_rows if total_rows is not None else max(self._count(key), sample.height)
        seen = {c: n for c, n in self.recent_filter_columns().items() if not c.startswith(PREFIX)}
        return advise_partitions(
            sample,
            total_rows=rows,
            ids=graph.spec(key).id_columns,
            filter_counts=seen,
            target_file_bytes=target_file_bytes,
        )

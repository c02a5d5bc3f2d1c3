"""Prometheus exposition of an instrumented store's metrics (imported only when asked for)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

if TYPE_CHECKING:
    from metaxy.stores.wrappers.instrumented import InstrumentedMetadataStore


class MetricsCollector:
    """Reads the store's metrics at scrape time; nothing is duplicated into prometheus_client state."""

    def __init__(self, store: InstrumentedMetadataStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        exported = self.store.export_metrics()
        labels = ["store", "operation"]
        families = {
            "calls": CounterMetricFamily(
                "metaxy_store_operations", "Store operations called.", labels=labels
            ),
            "errors": CounterMetricFamily(
                "metaxy_store_operation_errors", "Store operations that raised.", labels=labels
            ),
            "rows": CounterMetricFamily("metaxy_store_rows", "Rows written, read or deleted.", labels=labels),
            "bytes": CounterMetricFamily(
                "metaxy_store_bytes", "Estimated bytes written or read.", labels=labels
            ),
        }
        latency = HistogramMetricFamily(
            "metaxy_store_operation_duration_seconds", "Latency of store operations.", labels=labels
        )
        for operation, metrics in exported["operations"].items():
            values = [exported["store"], operation]
            for key, family in families.items():
                family.add_metric(values, metrics[key])
            seconds = metrics["latency_seconds"]
            latency.add_metric(values, list(seconds["buckets"].items()), seconds["sum"])
        yield from families.values()
        yield latency
        errors = CounterMetricFamily(
            "metaxy_store_errors", "Errors by exception type.", labels=["store", "error"]
        )
        for error, count in exported["errors"].items():
            errors.add_metric([exported["store"], error], count)
        yield errors
        yield from _cache_families(exported)


def _cache_families(exported: dict[str, Any]) -> Iterator[Any]:
    cache = exported.get("cache")
    if cache is None:
        return
    for key in ("hits", "misses"):
        family = CounterMetricFamily(f"metaxy_store_cache_{key}", f"Cached reads: {key}.", labels=["store"])
        family.add_metric([exported["store"]], cache[key])
        yield family
    ratio = GaugeMetricFamily("metaxy_store_cache_hit_ratio", "Cache hits / lookups.", labels=["store"])
    ratio.add_metric([exported["store"]], cache["hit_rate"])
    yield ratio

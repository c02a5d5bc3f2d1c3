"""``InstrumentedMetadataStore``: wraps any store and measures what it does (counts, rows, bytes, latency)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import polars as pl

from metaxy.exceptions import ConfigError
from metaxy.stores._drivers import import_driver
from metaxy.stores._operations import OPERATIONS, summarize
from metaxy.stores.base import MetadataStore
from metaxy.stores.wrappers.base import WrappedMetadataStore
from metaxy.stores.wrappers.metrics import StoreMetrics

R = TypeVar("R")


class InstrumentedMetadataStore(WrappedMetadataStore):
    """A store that records metrics about every public operation of the store it wraps.

    Recorded per operation (``write``, ``read``, ``delete``, ``resolve``, ``calculate``, ``has_feature``,
    ``list``, ``copy``): calls, errors, rows and bytes (``DataFrame.estimated_size()``) moved, and a
    latency histogram with fixed buckets (:data:`~metaxy.stores.wrappers.metrics.LATENCY_BUCKETS`); errors by
    exception type; cache hits and misses when the wrapped store is a
    :class:`~metaxy.stores.wrappers.cached.CachedMetadataStore`.

    Reads are collected inside the wrapper (``collect_reads=True``) so that their latency, rows and
    bytes are real; the returned frame is still a ``pl.LazyFrame``. Pass ``collect_reads=False`` to
    keep reads lazy: then only calls and the time to plan the read are recorded.

    Args:
        store: the store to measure (any :class:`MetadataStore`, opened through the wrapper).
        collect_reads: collect ``read_metadata`` results to measure them (see above).
        tracer: an OpenTelemetry tracer; each operation becomes a span named ``metaxy.<operation>``.
            ``"auto"`` uses ``opentelemetry.trace.get_tracer("metaxy")`` when OpenTelemetry is installed.
        clock: seconds as a float (``time.perf_counter``); tests pass a fake clock.

    Example:
        >>> import metaxy as mx
        >>> store = mx.InstrumentedMetadataStore(mx.InMemoryMetadataStore())
        >>> with store:
        ...     _ = store.list_features()
        >>> store.export_metrics()["operations"]["list"]["calls"]
        1
    """

    kind = "instrumented"

    def __init__(
        self,
        store: MetadataStore,
        *,
        collect_reads: bool = True,
        tracer: Any = None,
        clock: Callable[[], float] = time.perf_counter,
        name: str | None = None,
        enable_logging: bool = False,
        log_level: int | str = "INFO",
    ) -> None:
        super().__init__(store, name=name, enable_logging=enable_logging, log_level=log_level)
        self.collect_reads = collect_reads
        self.metrics = StoreMetrics()
        self._clock = clock
        self._tracer = _resolve_tracer(tracer)
        self._filter_columns: Counter[str] = Counter()

    def recent_filter_columns(self) -> Counter[str]:
        """How many reads, resolutions and deletes filtered on each column (the partition advisor's
        input), since the wrapper was built or its metrics were reset."""
        return Counter(self._filter_columns)

    def _call(self, operation: str, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        self._count_filters(kwargs.get("filters"))
        start = self._clock()
        with self._span(operation) as span:
            try:
                result = method(*args, **kwargs)
                measured: Any = result
                if operation == "read_metadata" and self.collect_reads:
                    measured = result.collect()  # type: ignore[attr-defined]
                    result = measured.lazy()
            except Exception as exc:
                self.metrics.record(
                    OPERATIONS[operation], self._clock() - start, rows=None, size=None, error=exc
                )
                raise
            info = summarize(operation, args, kwargs, measured)
            self.metrics.record(
                OPERATIONS[operation],
                self._clock() - start,
                rows=info.get("rows"),
                size=info.get("bytes"),
                error=None,
            )
            if span is not None:
                span.set_attributes(
                    {f"metaxy.{k}": v for k, v in info.items() if isinstance(v, (int, str, bool))}
                )
        return result

    def _count_filters(self, filters: Any) -> None:
        exprs = [filters] if isinstance(filters, pl.Expr) else filters
        if isinstance(exprs, list | tuple):
            named = {n for e in exprs if isinstance(e, pl.Expr) for n in e.meta.root_names()}
            self._filter_columns.update(named)

    def _span(self, operation: str) -> AbstractContextManager[Any]:
        if self._tracer is None:
            return nullcontext()
        attributes = {"metaxy.store": self.name, "metaxy.operation": OPERATIONS[operation]}
        return self._tracer.start_as_current_span(f"metaxy.{OPERATIONS[operation]}", attributes=attributes)  # type: ignore[no-any-return]

    # -- export -------------------------------------------------------------------------------------

    def export_metrics(self) -> dict[str, Any]:
        """Every metric as a plain, JSON-able dict.

        Shape: ``{"store": name, "operations": {op: {"calls", "errors", "rows", "bytes",
        "latency_seconds": {"count", "sum", "buckets": {le: cumulative count, ..., "+Inf": n}}}},
        "errors": {ExceptionType: n}, "cache": {"hits", "misses", "hit_rate"}}`` (``cache`` only when
        a cached store is wrapped).
        """
        exported = {"store": self.name, **self.metrics.export()}
        cache = self.cache_stats()
        if cache is not None:
            exported["cache"] = cache
        return exported

    def reset_metrics(self) -> None:
        """Start counting from zero."""
        self.metrics.reset()
        self._filter_columns.clear()

    def cache_stats(self) -> dict[str, Any] | None:
        """Hits, misses and hit rate of the first cache among the wrapped stores (``None`` without one)."""
        for store in _wrapped(self.inner):
            stats = getattr(store, "cache_stats", None)
            if callable(stats):
                result: dict[str, Any] | None = stats()
                return result
        return None

    def prometheus_collector(self) -> Any:
        """A ``prometheus_client`` collector exposing these metrics; ``registry.register(...)`` it."""
        import_driver("prometheus_client", "prometheus")  # a clear error before the module needing it
        from metaxy.stores.wrappers.prometheus import MetricsCollector

        return MetricsCollector(self)

    def prometheus_text(self) -> str:
        """These metrics in the Prometheus text exposition format."""
        client = import_driver("prometheus_client", "prometheus")
        registry = client.CollectorRegistry()
        registry.register(self.prometheus_collector())
        return str(client.generate_latest(registry).decode())


def _wrapped(store: MetadataStore) -> Iterator[MetadataStore]:
    """``store`` and the stores it wraps, outermost first."""
    current: MetadataStore | None = store
    while current is not None:
        yield current
        current = getattr(current, "inner", None)


def _resolve_tracer(tracer: Any) -> Any:
    if not isinstance(tracer, str):
        return tracer
    if tracer != "auto":
        raise ConfigError(
            f"tracer={tracer!r} is not a tracer.",
            hint='Pass an OpenTelemetry tracer, "auto", or None.',
        )
    try:
        from opentelemetry import trace
    except ImportError:
        return None  # OpenTelemetry is optional: without it, "auto" traces nothing
    return trace.get_tracer("metaxy")

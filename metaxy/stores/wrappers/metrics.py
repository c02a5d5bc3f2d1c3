"""Counters and fixed-bucket latency histograms for :class:`~metaxy.stores.wrappers.instrumented.InstrumentedMetadataStore`."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: latency histogram upper bounds in seconds (Prometheus-style ``le``), plus an implicit ``+Inf``
LATENCY_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class OperationMetrics:
    """What one kind of operation did since the last reset."""

    calls: int = 0
    errors: int = 0
    rows: int = 0
    bytes: int = 0
    latency_sum: float = 0.0
    #: non-cumulative count per bucket; the last slot is ``+Inf``
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))

    def observe(self, seconds: float) -> None:
        self.latency_sum += seconds
        self.latency_counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def cumulative_buckets(self) -> list[tuple[str, int]]:
        """``(le, calls that took at most le seconds)``, ending with ``("+Inf", calls)``."""
        bounds = [_format_bound(b) for b in LATENCY_BUCKETS] + ["+Inf"]
        running, out = 0, []
        for bound, count in zip(bounds, self.latency_counts, strict=True):
            running += count
            out.append((bound, running))
        return out

    def export(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "rows": self.rows,
            "bytes": self.bytes,
            "latency_seconds": {
                "count": self.calls,
                "sum": self.latency_sum,
                "buckets": dict(self.cumulative_buckets()),
            },
        }


class StoreMetrics:
    """Thread-safe metrics of one instrumented store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.operations: dict[str, OperationMetrics] = {}
            self.errors_by_type: Counter[str] = Counter()

    def record(
        self,
        operation: str,
        seconds: float,
        *,
        rows: int | None,
        size: int | None,
        error: BaseException | None,
    ) -> None:
        with self._lock:
            metrics = self.operations.setdefault(operation, OperationMetrics())
            metrics.calls += 1
            metrics.observe(seconds)
            metrics.rows += rows or 0
            metrics.bytes += size or 0
            if error is not None:
                metrics.errors += 1
                self.errors_by_type[type(error).__name__] += 1

    def export(self) -> dict[str, Any]:
        with self._lock:
            return {
                "operations": {name: m.export() for name, m in sorted(self.operations.items())},
                "errors": dict(sorted(self.errors_by_type.items())),
            }


def _format_bound(bound: float) -> str:
    return repr(float(bound))

"""The store's write clock: UTC timestamps that never repeat or go back, so latest-row-wins is exact."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class MonotonicClock:
    """Hands out UTC timestamps, each strictly greater than the one before (even within a microsecond)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            now = datetime.now(UTC)
            if now <= self._last:
                now = self._last + timedelta(microseconds=1)
            self._last = now
            return now

"""Structured operation logs for stores (``enable_logging=True``): one line per public call.

Lines go to the standard ``logging`` logger ``metaxy.stores``; the fields are also attached to the
record as ``record.metaxy`` (a dict) for structured handlers. Calls a store makes to itself while
serving a call (``resolve_update`` reading upstream) are not logged separately.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from metaxy.exceptions import ConfigError
from metaxy.stores._operations import summarize

LOGGER_NAME = "metaxy.stores"
logger = logging.getLogger(LOGGER_NAME)

P = ParamSpec("P")
R = TypeVar("R")


class OperationLog:
    """Per-store logging settings plus the nesting depth of the calls in flight (per thread)."""

    def __init__(self, *, enabled: bool, level: int | str) -> None:
        self.enabled = enabled
        self.level = _as_level(level)
        self._local = threading.local()

    def wants(self) -> bool:
        """Whether the next call should be logged: enabled, level on, and not nested in another call."""
        return self.enabled and getattr(self._local, "depth", 0) == 0 and logger.isEnabledFor(self.level)

    @contextmanager
    def nested(self) -> Iterator[None]:
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            yield
        finally:
            self._local.depth -= 1

    def emit(
        self, store_name: str, fields: dict[str, Any], seconds: float, error: BaseException | None
    ) -> None:
        fields = {"store": store_name, **fields, "duration_ms": round(seconds * 1000, 3)}
        if error is not None:
            fields["error"] = type(error).__name__
        text = " ".join(_render(k, v) for k, v in fields.items() if k != "operation" and v is not None)
        level = self.level if error is None else max(self.level, logging.WARNING)
        logger.log(level, "%s %s", fields["operation"], text, extra={"metaxy": fields})


def logged(operation: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a public store method so that, with logging enabled, each call logs one line."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            store = args[0]
            log: OperationLog | None = getattr(store, "_operation_log", None)
            if log is None or not log.wants():
                return method(*args, **kwargs)
            start = time.perf_counter()
            with log.nested():
                try:
                    result = method(*args, **kwargs)
                except Exception as exc:
                    fields = summarize(operation, args[1:], kwargs, None)
                    log.emit(getattr(store, "name", "?"), fields, time.perf_counter() - start, exc)
                    raise
            fields = summarize(operation, args[1:], kwargs, result)
            log.emit(getattr(store, "name", "?"), fields, time.perf_counter() - start, None)
            return result

        return wrapper

    return decorate


def _as_level(level: int | str) -> int:
    if isinstance(level, int):
        return level
    mapping = logging.getLevelNamesMapping()
    if level.upper() not in mapping:
        raise ConfigError(
            f"log_level={level!r} is not a logging level.",
            hint="Use DEBUG, INFO, WARNING or ERROR (or a logging level number).",
        )
    return mapping[level.upper()]


def _render(key: str, value: Any) -> str:
    if key == "bytes":
        return f"size={_human_size(int(value))}"
    if key == "duration_ms":
        return f"duration={value:.1f}ms"
    return f"{key}={value}"


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}GB"  # pragma: no cover - the loop always returns

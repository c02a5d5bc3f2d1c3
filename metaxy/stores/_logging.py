"""Structured operation logs for stores (``enable_logging=True``): one line per public call, and warnings.

Lines go to the standard ``logging`` logger ``metaxy.stores``; the fields are also attached to the
record as ``record.metaxy`` (a dict) for structured handlers. Calls a store makes to itself while
serving a call (``resolve_update`` reading upstream) are not logged separately. Warnings point at
the user's line (the first frame outside metaxy), however many wrappers the call went through.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from metaxy.exceptions import ConfigError
from metaxy.stores._operations import summarize

LOGGER_NAME = "metaxy.stores"
logger = logging.getLogger(LOGGER_NAME)

P = ParamSpec("P")
R = TypeVar("R")

#: frames in these folders are never "the caller" of a warning: metaxy itself, and Polars, which
#: calls back into stores while it collects a lazy frame
_METAXY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` with the stack level of the first frame outside metaxy (and Polars)."""
    internal = (_METAXY_DIR, *_polars_dir())
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(internal):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _polars_dir() -> tuple[str, ...]:
    polars = sys.modules.get("polars")
    return (os.path.dirname(os.path.abspath(polars.__file__)) + os.sep,) if polars and polars.__file__ else ()


class OperationLog:
    """Per-store logging settings plus the nesting depth of the calls in flight (per thread)."""

    def __init__(self, *, enabled: bool, level: int | str) -> None:
        self.enabled = enabled
        self.level = _as_level(level)
        self._local = threading.local()
        self._warned: set[tuple[type[Warning], str]] = set()

    def warn_once(self, topic: str, message: str, category: type[Warning]) -> None:
        """Warn about ``topic`` (e.g. a feature key) once for this store, at the user's line."""
        if (category, topic) in self._warned:
            return
        self._warned.add((category, topic))
        warn_at_caller(message, category)

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

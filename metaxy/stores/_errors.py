"""The one place where a backend's exceptions become metaxy errors: what failed, where, a hint, and
whether a retry may help (``transient``, as in dlt: a lost race or a dropped connection is transient;
bad input, a bad URL or a refused type is terminal).

Stores wrap each call into their driver in :class:`translated` naming the driver's modules (or call
:func:`backend_error`), so no driver or OS exception leaves the public API.
"""

from __future__ import annotations

from types import TracebackType

from metaxy.exceptions import MetaxyError, StoreBackendError

#: exception class names (anywhere in the class hierarchy or the ``__cause__`` chain) worth retrying
TRANSIENT_NAMES = frozenset(
    {
        "ConnectionError",
        "TimeoutError",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "CommitFailedError",
        "SerializationFailure",
        "DeadlockDetected",
        "LockNotAvailable",
        "AdminShutdown",
    }
)
#: message fragments of connection failures that drivers raise with generic classes
TRANSIENT_TEXT = (
    "connection refused",
    "connection failed",
    "could not connect",
    "connection reset",
    "timed out",
    "database is locked",  # SQLite: another writer held the lock past the busy timeout
    "database table is locked",
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a failure that the same call may not meet again."""
    seen: BaseException | None = exc
    while seen is not None:
        if any(cls.__name__ in TRANSIENT_NAMES for cls in type(seen).__mro__):
            return True
        if any(text in str(seen).lower() for text in TRANSIENT_TEXT):
            return True
        seen = seen.__cause__ or getattr(seen, "orig", None)
        if seen is exc:
            break
    return False


def first_line(exc: BaseException) -> str:
    """The driver's message without its multi-line context (SQL echoes, background links)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def backend_error(
    where: str, action: str, exc: BaseException, *, hint: str, transient: bool | None = None
) -> StoreBackendError:
    """A :class:`StoreBackendError` saying ``where`` ``action`` failed and why; raise it ``from exc``."""
    return StoreBackendError(
        f"{where}: {action} failed ({type(exc).__name__}): {first_line(exc)}",
        hint=hint,
        transient=is_transient(exc) if transient is None else transient,
    )


def is_driver_error(exc: BaseException, drivers: tuple[str, ...]) -> bool:
    """Whether ``exc`` comes from one of the ``drivers`` (top-level module names) or the OS.

    Anything else (a ``RuntimeError`` raised by a bug, a Polars error) is left alone: a bug must
    not look like a backend failure.
    """
    if isinstance(exc, OSError):
        return True
    return any(cls.__module__.split(".")[0].lstrip("_") in drivers for cls in type(exc).__mro__)


class translated:
    """``with translated(where, action, hint=..., drivers=(...)):`` turns the drivers' exceptions into ours.

    Metaxy's own errors and exceptions from other code pass through unchanged.
    """

    def __init__(self, where: str, action: str, *, hint: str, drivers: tuple[str, ...]) -> None:
        self.where = where
        self.action = action
        self.hint = hint
        self.drivers = drivers

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, MetaxyError) or not is_driver_error(exc, self.drivers):
            return
        raise backend_error(self.where, self.action, exc, hint=self.hint) from exc

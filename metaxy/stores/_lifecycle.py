"""Opening and closing a store: nested opens are counted, fallbacks open and close with it, and the
closed / read-only guards every operation starts with.

:class:`StoreLifecycle` is mixed into :class:`~metaxy.stores.base.MetadataStore`.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Self, overload

from metaxy.exceptions import ReadOnlyStoreError, StoreClosedError
from metaxy.stores import _compat

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore


class StoreLifecycle:
    """``with store:`` / ``open()`` / ``close()``; the backend is opened by the first open only."""

    _opened: int = 0  # how many opens are not closed yet

    if TYPE_CHECKING:  # provided by MetadataStore
        name: str
        read_only: bool
        fallback_stores: list[MetadataStore]
        _lock: threading.RLock

        def _open_backend(self) -> None: ...
        def _close_backend(self) -> None: ...
        def _chain(self) -> list[MetadataStore]: ...

    @overload
    def open(self) -> Self: ...

    @overload
    def open(self, mode: str) -> AbstractContextManager[Self]: ...

    def open(self, mode: str | None = None) -> Self | AbstractContextManager[Self]:
        """Open the store and its fallbacks (``with store:`` does it for a block).

        ``open("r")`` / ``open("w")`` is Metaxy 0.1.x's ``with store.open(mode):``: a context manager
        that opens for the block only (read-only is the constructor's ``read_only=`` here).
        """
        if mode is not None:
            _compat.check_mode(mode)
            return _compat.opened(self)  # type: ignore[arg-type, return-value]
        self._chain()  # a fallback list edited after construction may have made a cycle
        with self._lock:
            if self._opened == 0:
                self._open_backend()
            self._opened += 1
        for fallback in self.fallback_stores:
            fallback.open()
        return self

    def close(self) -> None:
        for fallback in self.fallback_stores:
            fallback.close()
        with self._lock:
            if self._opened == 0:
                return
            self._opened -= 1
            if self._opened == 0:
                self._close_backend()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._opened > 0

    def require_open(self) -> None:
        """Raise :class:`~metaxy.exceptions.StoreClosedError` unless the store is open."""
        if not self._opened:
            raise StoreClosedError(
                f"{self.name} is closed.",
                hint="Use the store inside `with store:` (or call store.open() first).",
            )

    def require_writable(self, action: str) -> None:
        """Raise unless the store is open and writable; ``action`` ("migrate ...") goes in the message."""
        self.require_open()
        if self.read_only:
            raise ReadOnlyStoreError(
                f"Cannot {action}: {self.name} was opened read-only.",
                hint="Open a writable store (read_only=False) to change metadata.",
            )

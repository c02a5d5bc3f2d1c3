"""``MockMetadataStore``: an in-memory store whose operations can be told to fail, for error-path tests."""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import polars as pl

from metaxy.exceptions import StoreError
from metaxy.models.keys import FeatureKey
from metaxy.stores._operations import OPERATIONS
from metaxy.stores.memory import InMemoryMetadataStore

P = ParamSpec("P")
R = TypeVar("R")

#: backend primitives that can fail, by the name ``set_failure`` takes
BACKEND_OPERATIONS: dict[str, str] = {
    "open": "_open_backend",
    "append": "_append",
    "scan": "_scan",
    "delete_rows": "_delete_rows",
    "list_keys": "_list_keys",
}

#: every name ``set_failure`` accepts -> the canonical operation name
_NAMES: dict[str, str] = {
    **{public: public for public in OPERATIONS},
    **{short: public for public, short in OPERATIONS.items()},
    **{name: name for name in BACKEND_OPERATIONS},
}


@dataclass
class _Failure:
    exception: BaseException | type[BaseException]
    on_call: int | None
    calls: int = 0


class MockMetadataStore(InMemoryMetadataStore):
    """An :class:`~metaxy.InMemoryMetadataStore` with injectable failures and call counts.

    Public operations (``write_metadata``/``"write"``, ``read_metadata``/``"read"``, ``delete_metadata``,
    ``resolve_update``, ``calculate_and_write_data_versions``, ``has_feature``, ``list_features``,
    ``copy_metadata``) fail when *you* call them, before touching storage; calls the store makes to
    itself (``resolve_update`` reading upstream) neither fail nor count. To simulate storage failing
    in the middle of an operation, fail a backend primitive instead: ``"open"``, ``"append"``,
    ``"scan"``, ``"delete_rows"``, ``"list_keys"`` (every call of those counts).

    Example:
        >>> from metaxy.exceptions import StoreBackendError
        >>> store = MockMetadataStore()
        >>> store.set_failure("write", StoreBackendError("disk full"), on_call=2)
    """

    kind = "mock"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._failures: dict[str, _Failure] = {}
        self._depth = threading.local()
        #: calls made so far, by canonical operation name
        self.calls: Counter[str] = Counter()

    def set_failure(
        self,
        operation: str,
        exception: BaseException | type[BaseException],
        *,
        on_call: int | None = None,
    ) -> None:
        """Make ``operation`` raise ``exception``: on every call, or only on its ``on_call``-th call from now.

        Args:
            operation: a public method name, its short name (``"write"``, ``"read"``, ``"delete"``,
                ``"resolve"``, ``"calculate"``, ``"list"``, ``"copy"``) or a backend primitive.
            exception: the exception (instance or class) to raise.
            on_call: 1 fails the next call only, 2 the one after, ...; ``None`` fails every call.
        """
        canonical = _canonical(operation)
        if on_call is not None and on_call < 1:
            raise StoreError(f"set_failure: on_call={on_call} must be 1 or more.", hint="Count calls from 1.")
        self._failures[canonical] = _Failure(exception, on_call)

    def clear_failures(self) -> None:
        """Remove every configured failure."""
        self._failures.clear()

    def _check(self, operation: str) -> None:
        self.calls[operation] += 1
        failure = self._failures.get(operation)
        if failure is None:
            return
        failure.calls += 1
        if failure.on_call is None or failure.calls == failure.on_call:
            if failure.on_call is not None:
                del self._failures[operation]  # a one-shot failure is spent
            raise failure.exception

    @contextmanager
    def _outermost(self, operation: str) -> Iterator[None]:
        depth = getattr(self._depth, "value", 0)
        if depth == 0:
            self._check(operation)
        self._depth.value = depth + 1
        try:
            yield
        finally:
            self._depth.value = depth

    # -- backend primitives -----------------------------------------------------------------------

    def _open_backend(self) -> None:
        self._check("open")
        super()._open_backend()

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        self._check("append")
        super()._append(key, df)

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        self._check("scan")
        return super()._scan(key)

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        self._check("delete_rows")
        super()._delete_rows(key, predicate)

    def _list_keys(self) -> list[FeatureKey]:
        self._check("list_keys")
        return super()._list_keys()


def _canonical(operation: str) -> str:
    canonical = _NAMES.get(operation)
    if canonical is None:
        raise StoreError(
            f"set_failure: {operation!r} is not a store operation.",
            hint=f"Use one of: {', '.join(sorted(_NAMES))}.",
        )
    return canonical


def _guarded(operation: str, method: Callable[P, R]) -> Callable[P, R]:
    """``method`` preceded by the failure check of ``operation`` (outermost calls only)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        assert isinstance(store, MockMetadataStore)
        with store._outermost(operation):
            return method(*args, **kwargs)

    return wrapper


# One guard per public operation, generated from the shared operation list so that an operation added
# to stores is guarded here too.
for _public in OPERATIONS:
    setattr(MockMetadataStore, _public, _guarded(_public, getattr(InMemoryMetadataStore, _public)))

"""``CachedMetadataStore``: an LRU cache of ``read_metadata`` results in front of any store."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import polars as pl

from metaxy.exceptions import ConfigError
from metaxy.models.feature import resolve_feature
from metaxy.models.keys import FeatureKey
from metaxy.stores._logging import logged
from metaxy.stores._operations import describe_feature
from metaxy.stores._read import as_filters
from metaxy.stores.base import FeatureLike, MetadataStore
from metaxy.stores.wrappers.base import WrappedMetadataStore

R = TypeVar("R")

#: ``read_metadata`` options and their defaults (a call spelling a default hits the same entry)
_READ_DEFAULTS: dict[str, Any] = {
    "filters": None,
    "columns": None,
    "feature_version": None,
    "all_versions": False,
    "history": False,
    "include_deleted": False,
    "allow_fallback": True,
}

#: operations through the wrapper that change what reads of their feature return
_WRITES = frozenset(
    {"write_metadata", "delete_metadata", "calculate_and_write_data_versions", "prune", "migrate_schema"}
)

CacheKey = tuple[Hashable, ...]


#: how a Python function (``map_batches``, ``map_elements``) appears in a serialized expression
_PYTHON_FUNCTION_MARKERS = (b"AnonymousFunction", b"PLPYFN")


class CachedMetadataStore(WrappedMetadataStore):
    """Serves repeated ``read_metadata`` calls from memory; every other operation goes to ``store``.

    An entry is keyed by feature, the feature version the read resolves to (so a code change never
    serves the old version's rows), the filters (their serialized expressions), the columns and the
    read flags. Entries hold the *collected* frame; reads return it as a ``pl.LazyFrame``. Filters that
    cannot be serialized (Python UDFs) bypass the cache.

    Invalidation: a write, delete or ``calculate_and_write_data_versions`` through this wrapper drops
    every entry of that feature; ``copy_metadata`` into it drops everything. Writes that bypass the
    wrapper — another process, another handle on the same storage, a fallback store written directly —
    are seen once the entry is older than ``ttl`` seconds. With ``ttl=None`` entries live until evicted
    (least recently used first, beyond ``cache_size`` entries) or invalidated; call :meth:`invalidate`
    after out-of-band writes you know about.

    Args:
        store: the store to cache reads of.
        cache_size: at most this many read results are kept.
        ttl: seconds an entry may be served for; ``None`` for no expiry.
        clock: monotonic seconds (``time.monotonic``); tests pass a fake clock.
    """

    kind = "cached"

    def __init__(
        self,
        store: MetadataStore,
        *,
        cache_size: int = 100,
        ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str | None = None,
        enable_logging: bool = False,
        log_level: int | str = "INFO",
    ) -> None:
        if cache_size < 1:
            raise ConfigError(
                f"cache_size={cache_size} must be at least 1.", hint="Use the store without a cache."
            )
        if ttl is not None and ttl <= 0:
            raise ConfigError(
                f"ttl={ttl} must be positive.", hint="Use ttl=None for entries that never expire."
            )
        super().__init__(store, name=name, enable_logging=enable_logging, log_level=log_level)
        self.cache_size = cache_size
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[CacheKey, tuple[pl.DataFrame, float]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._hits = self._misses = self._bypassed = 0

    @logged("read_metadata")
    def read_metadata(self, feature: FeatureLike, **options: Any) -> pl.LazyFrame:
        """Like :meth:`MetadataStore.read_metadata`, served from the cache when an entry is fresh."""
        key = self._cache_key(feature, options)
        if key is None:
            with self._cache_lock:
                self._bypassed += 1
            return self.inner.read_metadata(feature, **options)
        cached = self._lookup(key)
        if cached is not None:
            return cached.lazy()
        frame = self.inner.read_metadata(feature, **options).collect()
        self._remember(key, frame)
        return frame.lazy()

    def invalidate(self, feature: FeatureLike | None = None) -> None:
        """Drop the entries of ``feature`` (of every feature when ``None``)."""
        with self._cache_lock:
            if feature is None:
                self._entries.clear()
                return
            name = describe_feature(feature)  # never raises: also runs after a failed write
            for key in [k for k in self._entries if k[0] == name]:
                del self._entries[key]

    def cache_stats(self) -> dict[str, Any]:
        """``hits``, ``misses``, ``hit_rate`` (hits / lookups), ``bypassed``, ``entries`` and ``cache_size``."""
        with self._cache_lock:
            lookups = self._hits + self._misses
            return {
                "hits": self._hits,
                "misses": self._misses,
                "hit_rate": self._hits / lookups if lookups else 0.0,
                "bypassed": self._bypassed,
                "entries": len(self._entries),
                "cache_size": self.cache_size,
            }

    # -- invalidation -----------------------------------------------------------------------------

    def _call(self, operation: str, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        if operation == "copy_metadata":
            try:
                return method(*args, **kwargs)
            finally:
                self.invalidate()
        if operation not in _WRITES:
            return method(*args, **kwargs)
        try:
            return method(*args, **kwargs)
        finally:  # even a failed write may have changed storage
            self.invalidate(args[0])

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        try:
            super()._append(key, df)
        finally:
            self.invalidate(key)

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        try:
            super()._delete_rows(key, predicate)
        finally:
            self.invalidate(key)

    # -- entries ----------------------------------------------------------------------------------

    def _cache_key(self, feature: FeatureLike, options: dict[str, Any]) -> CacheKey | None:
        """The entry key of a read, or ``None`` when its filters cannot be serialized."""
        unknown = set(options) - set(_READ_DEFAULTS)
        if unknown:
            return None  # let the wrapped store report the bad option
        flags = {**_READ_DEFAULTS, **options}
        key, graph = resolve_feature(feature)
        version = None
        if not (flags["all_versions"] or flags["history"]):
            version = flags["feature_version"] or graph.feature_version(key)
        try:
            filters = tuple(expr.meta.serialize() for expr in as_filters(flags["filters"], where=self.name))
        except Exception:
            return None  # not serializable: no stable identity
        if any(marker in f for f in filters for marker in _PYTHON_FUNCTION_MARKERS):
            return None  # a Python UDF: newer Polars pickles it, but what it reads may change unseen
        columns = None if flags["columns"] is None else tuple(flags["columns"])
        rest = tuple((k, flags[k]) for k in ("all_versions", "history", "include_deleted", "allow_fallback"))
        return (key.to_string(), version, filters, columns, rest)

    def _lookup(self, key: CacheKey) -> pl.DataFrame | None:
        with self._cache_lock:
            entry = self._entries.get(key)
            if entry is not None and self.ttl is not None and self._clock() - entry[1] > self.ttl:
                del self._entries[key]
                entry = None
            if entry is None:
                self._misses += 1
                return None
            self._hits += 1
            self._entries.move_to_end(key)
            return entry[0]

    def _remember(self, key: CacheKey, frame: pl.DataFrame) -> None:
        with self._cache_lock:
            self._entries[key] = (frame, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.cache_size:
                self._entries.popitem(last=False)

"""What a worker of any engine (Ray, Dask) does with metaxy, without importing the engine.

A job ships two small references to its workers: a :class:`StoreRef` (a configured store's name, or a
zero-argument factory) and a :class:`FeatureRef` (the feature class's module and name, or a key). Each
worker builds its own store from the first and finds its feature from the second, so no open
connection ever crosses a process boundary.
"""

from __future__ import annotations

import pickle
import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import polars as pl

from metaxy.exceptions import IntegrationError, MetaxyError, StoreBackendError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.spec import FeatureSpec
from metaxy.stores._drivers import import_driver
from metaxy.stores._write import attach_provenance
from metaxy.stores.base import MetadataStore
from metaxy.versioning.increment import Increment
from metaxy.versioning.lineage import versioning_keys
from metaxy.versioning.shard import Shard

#: the column the incremental reads add: ``"new"`` or ``"stale"`` (dropped again by the writers)
STATUS = "metaxy_status"

T = TypeVar("T")
StoreSpec = str | Callable[[], MetadataStore]


@dataclass(frozen=True)
class StoreRef:
    """How a worker builds its store: a store name of ``metaxy.toml``, or a zero-argument factory."""

    spec: StoreSpec

    @classmethod
    def of(cls, spec: Any, *, where: str) -> StoreRef:
        """Check ``spec`` on the driver: a name, or a factory that pickles and builds a shareable store.

        Raises:
            IntegrationError: ``spec`` is an open store object, does not pickle, or builds a store
                whose data lives in one process (in memory).
        """
        if isinstance(spec, MetadataStore):
            raise IntegrationError(
                f"{where}: store={spec!r} is a store object; workers need to build their own.",
                hint="Pass the store's name in metaxy.toml, or a zero-argument factory such as "
                "store=lambda: mx.DeltaMetadataStore('s3://bucket/meta').",
            )
        if not isinstance(spec, str) and not callable(spec):
            raise IntegrationError(
                f"{where}: store={spec!r} is neither a store name nor a factory.",
                hint="Pass the store's name in metaxy.toml, or a zero-argument function returning a store.",
            )
        ref = cls(spec)
        check_picklable(ref, what=f"the store factory {spec!r}", where=where)
        store = ref.build(where=where)
        if store.is_in_process():
            raise IntegrationError(
                f"{where}: {store.name} keeps its data in the memory of one process ({store.location}); "
                "each worker would see its own empty store.",
                hint="Use a store every worker can reach: a Delta table on shared storage or S3, a database "
                "server (PostgreSQL, ClickHouse), or a DuckDB/SQLite file on a shared filesystem.",
            )
        return ref

    def build(self, *, where: str = "worker") -> MetadataStore:
        """A new (closed) store, in whichever process calls this."""
        if isinstance(self.spec, str):
            from metaxy.config import load_config
            from metaxy.stores.registry import store_from_config

            return store_from_config(load_config(), self.spec)
        store = self.spec()
        if not isinstance(store, MetadataStore):
            raise IntegrationError(
                f"{where}: the store factory {self.spec!r} returned {type(store).__name__}, not a store.",
                hint="The factory must return a metaxy store, e.g. lambda: mx.DeltaMetadataStore(path).",
            )
        return store

    @contextmanager
    def opened(self, *, read_only: bool = False, where: str = "worker") -> Iterator[MetadataStore]:
        """The store, open for the block; an error opening it names this host and the location."""
        store = self.build(where=where)
        store.read_only = store.read_only or read_only
        try:
            retried(store.open)
        except MetaxyError as exc:
            raise IntegrationError(
                f"{where}: {store.name} at {store.location} cannot be opened on "
                f"{'driver' if where == 'driver' else 'worker'} host {socket.gethostname()}: {exc.message}",
                hint="Every worker opens the store itself: its location must be reachable from each worker "
                "(a shared filesystem, an object store, a database server), with credentials there too.",
            ) from exc
        try:
            yield store
        finally:
            store.close()


@dataclass(frozen=True)
class FeatureRef:
    """A feature as workers get it: its key and the definitions (specs) of it and its upstream.

    Workers version from the specs alone, so they need not import the module defining the feature.
    """

    key: str
    specs: tuple[FeatureSpec, ...]
    module: str | None = None

    @classmethod
    def of(cls, feature: Any, *, where: str) -> FeatureRef:
        """The feature (a class, or a key of the active graph) with the specs its versions depend on.

        Raises:
            IntegrationError: ``feature`` is neither, or its definitions cannot be sent to workers.
        """
        graph_of, spec_of = getattr(feature, "graph", None), getattr(feature, "spec", None)
        if isinstance(feature, type) and callable(graph_of) and callable(spec_of):
            graph, key, module = graph_of(), spec_of().key, feature.__module__
        elif isinstance(feature, str | FeatureKey):
            graph, key, module = FeatureGraph.get_active(), FeatureKey(feature), None
        else:
            raise IntegrationError(
                f"{where}: feature={feature!r} is neither a feature class nor a feature key.",
                hint="Pass the feature class, or its key (defined in the active feature graph).",
            )
        specs = tuple(graph.spec(k) for k in graph.topological_order([key]))  # the feature and its upstream
        ref = cls(key.to_string(), specs, module)
        try:
            pickle.dumps(ref)
        except Exception as exc:
            place = f" (defined in {module!r})" if module else ""
            raise IntegrationError(
                f"{where}: the definition of feature {ref.key!r}{place} cannot be sent to the workers: "
                f"{type(exc).__name__}: {exc}.",
                hint=f"Make {module or 'the module defining it'} importable on every worker and add it to "
                "metaxy.toml's entrypoints; keep FeatureDep filters plain Polars expressions.",
            ) from exc
        return ref

    def graph(self) -> FeatureGraph:
        """A feature graph holding the shipped definitions (use it with ``with graph.use():``)."""
        graph = FeatureGraph()
        for spec in self.specs:
            graph.add_feature(spec)
        return graph

    @contextmanager
    def active(self) -> Iterator[FeatureGraph]:
        """The shipped definitions as the active graph, for the work done inside the block.

        The definitions travel, but code they refer to (a Python function in a ``FeatureDep`` filter)
        travels by name: a module this process cannot import is named in the error.

        Raises:
            IntegrationError: the work needed a module this process cannot import.
        """
        graph = self.graph()
        try:
            with graph.use():
                yield graph
        except ModuleNotFoundError as exc:
            # Polars re-raises it from inside a query: the name is only in the message's first line
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            found = re.search(r"No module named '([^']+)'", reason)
            missing = exc.name or (found.group(1) if found else "the module")
            place = f" (defined in {self.module!r})" if self.module else ""
            raise IntegrationError(
                f"feature {self.key!r}{place} needs module {missing!r}, which cannot be imported on "
                f"host {socket.gethostname()}: {reason}.",
                hint=f"Install {missing!r} on every worker and add it to metaxy.toml's entrypoints (on Ray, "
                "runtime_env={'py_modules': [...]} ships it); or keep FeatureDep filters plain Polars "
                "expressions.",
            ) from exc


def check_picklable(value: Any, *, what: str, where: str) -> None:
    """Refuse ``value`` now, on the driver, if it cannot be sent to workers.

    Raises:
        IntegrationError: naming ``what`` and the pickling error.
    """
    try:
        import cloudpickle

        cloudpickle.dumps(value)
    except ImportError:  # pragma: no cover - ray and dask both install cloudpickle
        pickle.dumps(value)
    except Exception as exc:
        raise IntegrationError(
            f"{where}: {what} cannot be sent to the workers: {type(exc).__name__}: {exc}.",
            hint="A factory must not capture open stores, connections, locks or threads: build them "
            "inside the function.",
        ) from exc


def retried(action: Callable[[], T], *, attempts: int = 40, delay: float = 0.05) -> T:
    """``action()``, retried while it fails with a transient store error (a lock held by another writer)."""
    for attempt in range(attempts):
        try:
            return action()
        except StoreBackendError as exc:
            if not getattr(exc, "transient", False) or attempt == attempts - 1:
                raise
            time.sleep(min(delay * (attempt + 1), 1.0))
    raise AssertionError("unreachable")  # pragma: no cover


def read_shard(
    store_ref: StoreRef,
    feature_ref: FeatureRef,
    shard: Shard,
    *,
    incremental: bool,
    filters: Sequence[pl.Expr] = (),
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """One shard: the new and stale samples (``metaxy_status`` tells which) or the stored rows."""
    feature, chosen = feature_ref.key, list(filters) or None
    with feature_ref.active(), store_ref.opened(read_only=True) as store:
        if not incremental:
            lf = store.read_metadata(feature, filters=chosen, columns=columns, shard=shard)
            return retried(lf.collect)
        increment = retried(lambda: store.resolve_update(feature, filters=chosen, shard=shard))
    return with_status(increment, columns)


def with_status(increment: Increment[pl.DataFrame], columns: Sequence[str] | None = None) -> pl.DataFrame:
    """``new`` and ``stale`` in one frame, with the ``metaxy_status`` column."""
    parts = [
        increment.new.with_columns(pl.lit("new").alias(STATUS)),
        increment.stale.with_columns(pl.lit("stale").alias(STATUS)),
    ]
    frame = pl.concat(parts, how="diagonal_relaxed")
    return frame if columns is None else frame.select(*dict.fromkeys([*columns, STATUS]))


def write_block(store: MetadataStore, feature: Any, frame: pl.DataFrame) -> int:
    """Append one block (one atomic write); returns its rows."""
    frame = frame.drop(STATUS, strict=False)
    retried(lambda: store.write_metadata(feature, frame))
    return frame.height


def version_block(store: MetadataStore, feature: Any, frame: pl.DataFrame) -> pl.DataFrame:
    """One block's samples with the versions their upstream gives them (root features: as given).

    Only the block's upstream samples are versioned: the expected samples are narrowed to the block's
    keys before anything is collected, so stores that push filters down read only those.

    Raises:
        SchemaError: a sample of the block has no upstream rows.
    """
    key, graph = store.resolve_feature(feature)
    plan = graph.plan(key)
    frame = frame.drop(STATUS, strict=False)
    if plan.is_root:
        return frame
    keys = versioning_keys(plan)
    wanted = frame.select(keys).unique()
    narrowed = pl.all_horizontal(pl.col(k).is_in(wanted[k]) for k in keys)
    expected = retried(lambda: store.expected_samples(plan, graph).filter(narrowed).collect())
    return attach_provenance(plan, frame, expected.lazy(), where=f"{store.name}, feature {key.to_string()!r}")


def import_engine(module: str, extra: str) -> ModuleType:
    """Import a distributed engine, or say which extra installs it (:class:`MissingDependencyError`)."""
    return import_driver(module, extra, needed_by=f"metaxy.integrations.{extra}")

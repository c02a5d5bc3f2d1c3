"""Writer processes for the concurrency and kill -9 tests (importable, so ``spawn`` can run them)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

import metaxy as mx
from metaxy.exceptions import FeatureNotFoundError, StoreBackendError
from tests.stores.graphs import video_graph, videos

#: ids of writer ``w`` start at ``w * STRIDE``: writers never share an id
STRIDE = 10_000_000


def context() -> Any:
    """Processes forked from a server that has already imported metaxy (starting one takes no import).

    The server forks before any Polars or driver thread exists, unlike forking the test process.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


@dataclass(frozen=True)
class StoreSpec:
    """A picklable recipe for a store: ``metaxy.<cls>(*args, **kwargs)``.

    ``reopen`` opens the store for each write (DuckDB: one process holds a file at a time).
    """

    cls: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    reopen: bool = False

    def build(self) -> mx.MetadataStore:
        store: mx.MetadataStore = getattr(mx, self.cls)(*self.args, **self.kwargs)
        return store


def retrying(action: Callable[[], None], attempts: int = 200) -> None:
    """Run ``action``, retrying the errors the store marks transient (what a careful caller does)."""
    for attempt in range(attempts):
        try:
            action()
            return
        except StoreBackendError as exc:
            if not exc.transient or attempt == attempts - 1:
                raise
            time.sleep(0.01 * min(attempt + 1, 20))  # back off while another writer holds the lock


def ids_of(writer: int, append: int, rows: int) -> list[int]:
    first = writer * STRIDE + append * rows
    return list(range(first, first + rows))


def append_many(spec: StoreSpec, writer: int, appends: int, rows: int, start: Any) -> None:
    """Writer ``writer``: ``appends`` writes of ``rows`` new samples each, starting with the others."""
    with mx.FeatureGraph().use():
        g = video_graph()
        start.wait(timeout=60)  # every writer begins together, to race on the first write
        if spec.reopen:
            for i in range(appends):
                frame = videos(ids_of(writer, i, rows))
                retrying(lambda f=frame: _write_once(spec, g.video, f))  # type: ignore[misc]
            return
        with spec.build() as store:
            for i in range(appends):
                frame = videos(ids_of(writer, i, rows))
                retrying(lambda f=frame: store.write_metadata(g.video, f))  # type: ignore[misc]


def _write_once(spec: StoreSpec, feature: type[mx.Feature], frame: Any) -> None:
    with spec.build() as store:
        store.write_metadata(feature, frame)


def race_features(count: int) -> list[type[mx.Feature]]:
    """``count`` new root features shaped like ``video/raw`` (keys ``race/f0``, ``race/f1``, ...)."""
    features: list[type[mx.Feature]] = []
    for i in range(count):
        fields = [mx.FieldSpec(key="audio", code_version="1"), mx.FieldSpec(key="frames", code_version="1")]

        class Race(mx.Feature, spec=mx.FeatureSpec(key=f"race/f{i}", fields=fields)):
            path: str

        features.append(Race)
    return features


def first_writes(spec: StoreSpec, writer: int, features: int, rows: int, barrier: Any) -> None:
    """Writer ``writer`` writes the first rows of ``features`` new features, each in step with the others."""
    with mx.FeatureGraph().use():
        if spec.reopen:
            for feature in race_features(features):
                barrier.wait(timeout=120)
                frame = videos(ids_of(writer, 0, rows))
                retrying(lambda f=feature, df=frame: _write_once(spec, f, df))  # type: ignore[misc]
            return
        with spec.build() as store:
            for feature in race_features(features):
                barrier.wait(timeout=120)  # all writers create the table at the same moment
                try:
                    store.write_metadata(feature, videos(ids_of(writer, 0, rows)))
                except BaseException:
                    barrier.abort()  # the others stop waiting for this writer
                    raise


def hang_in_first_insert(url: str, rows: int, inserting: Any) -> None:
    """Start the first write of ``race/f0`` to a SQLAlchemy store and stop inside its INSERT.

    The parent kills this process with SIGKILL once ``inserting`` is set: the table has been
    created (in the write's transaction) and the rows are being inserted, nothing is committed.
    """
    import threading

    import sqlalchemy

    with mx.FeatureGraph().use():
        (feature,) = race_features(1)
        with mx.SQLAlchemyMetadataStore(url) as store:

            @sqlalchemy.event.listens_for(store.engine, "before_cursor_execute")
            def _stop(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                if statement.lstrip().upper().startswith("INSERT"):
                    inserting.set()
                    threading.Event().wait()  # never returns: the parent kills the process here

            store.write_metadata(feature, videos(list(range(rows))))


# -- kill -9 in the middle of a write ---------------------------------------------------------------


def many_videos(first: int, rows: int) -> pl.DataFrame:
    """``rows`` samples shaped like :func:`videos`, ids from ``first`` on (built by Polars: fast at 2M)."""
    ids = pl.int_range(first, first + rows, dtype=pl.Int64, eager=True).alias("sample_uid")
    text = ids.cast(pl.String)
    return pl.DataFrame({"sample_uid": ids}).with_columns(
        path=pl.lit("v") + text + pl.lit(".mp4"),
        metaxy_provenance_by_field=pl.struct(audio=pl.lit("a") + text, frames=pl.lit("f") + text),
    )


def kill_features(scenario: str) -> tuple[type[mx.Feature], type[mx.Feature]]:
    """(the feature written first and left alone, the feature whose write is killed).

    ``first``: the killed write is the first one of ``video/raw``; ``append``: it appends to it.
    """
    g = video_graph()
    if scenario == "append":
        return g.video, g.video
    (other,) = race_features(1)
    return other, g.video


def write_until_killed(
    spec: StoreSpec, scenario: str, rows: int, started: Any, done: Any, seconds: Any
) -> None:
    """Write ``rows`` samples (ids ``0..rows``), then write ``rows`` more (ids from ``STRIDE``): the parent
    kills this process during the second write.

    ``seconds`` receives how long the backend took to store the first write; ``started`` and ``done``
    are set when the backend starts and finishes storing the second one.
    """
    with mx.FeatureGraph().use():
        earlier, target = kill_features(scenario)
        with spec.build() as store:
            backend_append = store._append
            timing: dict[str, float] = {}

            def timed(key: mx.FeatureKey, frame: pl.DataFrame) -> None:
                begin = time.monotonic()
                backend_append(key, frame)
                timing[key.to_string()] = time.monotonic() - begin

            store._append = timed  # type: ignore[method-assign]
            store.write_metadata(earlier, many_videos(0, rows))
            seconds.value = timing[earlier.spec().key.to_string()]

            def watched(key: mx.FeatureKey, frame: pl.DataFrame) -> None:
                watch = key == target.spec().key
                if watch:
                    started.set()
                backend_append(key, frame)
                if watch:
                    done.set()

            store._append = watched  # type: ignore[method-assign]
            store.write_metadata(target, many_videos(STRIDE, rows))


def inspect_after_kill(spec: StoreSpec, scenario: str, rows: int, results: Any) -> None:
    """In a fresh process: what the store holds after the kill, and whether it still takes a write."""
    with mx.FeatureGraph().use():
        earlier, target = kill_features(scenario)
        with spec.build() as store:
            try:
                before: pl.DataFrame | None = store.read_metadata(target, history=True).collect()
            except FeatureNotFoundError:
                before = None
            earlier_ids = store.read_metadata(earlier, history=True).collect()["sample_uid"]
            earlier_ids = earlier_ids.filter(earlier_ids < STRIDE)
            killed_ids = pl.Series([], dtype=pl.Int64) if before is None else before["sample_uid"]
            killed_ids = killed_ids.filter(killed_ids >= STRIDE)
            figures = {
                "earlier_rows": earlier_ids.len(),
                "earlier_exact": earlier_ids.n_unique() == rows
                and earlier_ids.sort().to_list() == list(range(rows)),
                "killed_rows": killed_ids.len(),
                "killed_unique": killed_ids.n_unique(),
                "listed": target.spec().key in store.list_features(),
                "has_feature": store.has_feature(target),
            }
            extra = many_videos(2 * STRIDE, 10)
            retrying(lambda: store.write_metadata(target, extra))
            after = store.read_metadata(target, history=True).collect()["sample_uid"]
            figures["rows_after_extra_write"] = after.len()
            figures["expected_after_extra_write"] = (0 if before is None else before.height) + 10
    results.put(figures)

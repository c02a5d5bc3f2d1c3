"""One store object shared by several threads: writers appending (racing on the first write) while
readers read, list and probe. Nothing is lost or duplicated, and no reader sees part of a write.

Small sizes here; ``make stress`` runs more threads and appends (``METAXY_STRESS_THREADS``/
``_THREAD_APPENDS``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import polars as pl
import pytest

import metaxy as mx
from tests.stores._stress import report, size
from tests.stores._workers import STRIDE, ids_of
from tests.stores.conftest import StoreFactory
from tests.stores.graphs import video_graph, videos

THREAD_STORES = ["memory", "sqlalchemy", "postgres", "duckdb", "delta", "delta-s3", "clickhouse"]
ROWS = 5  # rows per append: a reader seeing a count that is not a multiple of it saw part of a write


def _in_threads(actions: list[Callable[[], None]]) -> list[BaseException]:
    """Run each action in its own thread, all released together; the errors they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(actions))

    def run(action: Callable[[], None]) -> None:
        try:
            barrier.wait(timeout=60)
            action()
        except BaseException as exc:  # reported by the test, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=1800)
    return errors


@pytest.mark.stress
@pytest.mark.parametrize("store_factory", THREAD_STORES, indirect=True)
def test_threads_sharing_a_store_lose_nothing_and_read_whole_writes(
    store_factory: StoreFactory, request: pytest.FixtureRequest
) -> None:
    with store_factory() as store:
        _race(store, request.node.callspec.id)


@pytest.mark.stress
def test_threads_sharing_an_in_memory_sqlite_store_take_turns_on_its_connection() -> None:
    with mx.SQLAlchemyMetadataStore("sqlite://") as store:
        _race(store, "sqlite-memory")


def _race(store: mx.MetadataStore, name: str) -> None:
    """Writer threads append to one feature of ``store`` while two threads read it; check the outcome."""
    writers, appends = size("THREADS"), size("THREAD_APPENDS")
    g = video_graph()
    done = threading.Event()
    seen: list[int] = []

    def write(writer: int) -> Callable[[], None]:
        def action() -> None:
            for i in range(appends):
                store.write_metadata(g.video, videos(ids_of(writer, i, ROWS)))

        return action

    def read() -> None:
        while not done.is_set():
            if not store.has_feature(g.video):
                continue
            ids = store.read_metadata(g.video, history=True).collect()["sample_uid"]
            assert ids.n_unique() == ids.len(), "a reader saw a duplicated row"
            assert ids.len() % ROWS == 0, f"a reader saw part of a write ({ids.len()} rows)"
            assert store.list_features() == [g.video.spec().key]
            seen.append(ids.len())

    def writers_then_stop() -> None:
        try:
            errors = _in_threads([write(w) for w in range(writers)])
            if errors:
                raise errors[0]
        finally:
            done.set()

    errors = _in_threads([writers_then_stop, read, read])
    ids = store.read_metadata(g.video, history=True).collect()["sample_uid"]
    expected = pl.Series([w * STRIDE + i for w in range(writers) for i in range(appends * ROWS)])
    report(
        f"{writers} threads x {appends} appends on one store object",
        name,
        rows_expected=expected.len(),
        lost=expected.len() - expected.is_in(ids.implode()).sum(),
        duplicated=ids.len() - ids.n_unique(),
        reads=len(seen),
        errors=len(errors),
    )
    assert not errors, f"{len(errors)} thread(s) failed; first: {errors[0]!r}"
    assert ids.sort().to_list() == expected.sort().to_list()

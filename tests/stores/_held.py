"""A store's lock held by another thread, and frames collected with a time limit: for tests of reads
that must not queue behind the lock (Polars collects a resolution's upstream reads side by side)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl

import metaxy as mx

#: long enough for any read of these tests; a read queued behind the held lock never ends before it
WAIT_S = 20


@contextmanager
def lock_held(store: mx.MetadataStore) -> Iterator[None]:
    """Inside, another thread holds ``store``'s lock (on DuckDB: and so its connection)."""
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with store._lock:
            held.set()
            done.wait(WAIT_S)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(WAIT_S)
    try:
        yield
    finally:
        done.set()
        holder.join(WAIT_S)


def collected_within(frame: pl.LazyFrame) -> pl.DataFrame:
    """``frame`` collected on a thread of its own, failing the test if that takes over :data:`WAIT_S`."""
    out: list[pl.DataFrame] = []
    worker = threading.Thread(target=lambda: out.append(frame.collect()))
    worker.start()
    worker.join(WAIT_S)
    assert out, f"the read did not finish within {WAIT_S} s: it waited for the held lock"
    return out[0]

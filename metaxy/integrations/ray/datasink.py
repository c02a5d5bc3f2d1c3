"""``MetaxyDatasink``: each Ray block appended once, by the workers or by one writer actor.

A store that takes concurrent appends (``supports_concurrent_writers()``: Delta, PostgreSQL, SQLite
files, a ClickHouse server) is written by every write task directly. Any other store (a DuckDB file,
embedded chdb) is written by one actor, which the write tasks hand their blocks to. Each block is one
``write_metadata`` call: all of it is appended or none of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import ray
from ray.data.block import BlockAccessor
from ray.data.datasource import Datasink
from ray.data.datasource.datasink import WriteResult

from metaxy.integrations._worker import FeatureRef, StoreRef, write_block


@dataclass
class WriteReport:
    """What a distributed write did: rows appended, rows of failed blocks, and why they failed."""

    rows_written: int = 0
    rows_failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: WriteReport) -> None:
        self.rows_written += other.rows_written
        self.rows_failed += other.rows_failed
        self.errors.extend(other.errors)


class MetaxyDatasink(Datasink[WriteReport]):  # type: ignore[misc]
    """Write a dataset's blocks as ``feature``'s metadata (``dataset.write_datasink(sink)``).

    Rows need the id columns and ``metaxy_provenance_by_field`` (as the datasource's increments carry;
    its ``metaxy_status`` column is dropped). After the write, :attr:`report` says how many rows were
    written and failed.

    Args:
        feature: the feature class (importable by the workers) or its key.
        store: the store's name in ``metaxy.toml``, or a zero-argument factory returning a store.
        continue_on_error: record a failed block in the report and go on; by default the write raises.
    """

    def __init__(self, feature: Any, store: Any, *, continue_on_error: bool = False) -> None:
        self._feature = FeatureRef.of(feature, where="MetaxyDatasink")
        where = f"MetaxyDatasink({self._feature.key!r})"
        self._store = StoreRef.of(store, where=where)
        self.concurrent = self._store.build(where=where).supports_concurrent_writers()
        self.continue_on_error = continue_on_error
        self.report = WriteReport()
        self._writer_name = f"metaxy-writer-{uuid.uuid4().hex}"
        self._writer: Any = None

    def get_name(self) -> str:
        return f"Metaxy({self._feature.key})"

    def on_write_start(self, schema: Any = None) -> None:
        self.report = WriteReport()
        if not self.concurrent:
            self._writer = _SingleWriter.options(name=self._writer_name, num_cpus=0).remote(  # type: ignore[attr-defined]
                self._store, self._feature
            )

    def write(self, blocks: Iterable[Any], ctx: Any) -> WriteReport:
        report = WriteReport()
        with ExitStack() as stack:
            write_frame = self._frame_writer(stack)
            for block in blocks:
                frame = _frame(block)
                _guarded(report, frame.height, self.continue_on_error, lambda f=frame: write_frame(f))
        return report

    def _frame_writer(self, stack: ExitStack) -> Callable[[pl.DataFrame], Any]:
        """How this worker writes one block: into the store it opens, or through the single writer actor."""
        if self.concurrent:
            key = self._feature.key
            stack.enter_context(self._feature.active())
            store = stack.enter_context(self._store.opened())
            return lambda frame: write_block(store, key, frame)
        writer = ray.get_actor(self._writer_name)
        return lambda frame: ray.get(writer.write.remote(frame))

    def on_write_complete(self, write_result: WriteResult[WriteReport]) -> None:
        for part in write_result.write_returns:
            self.report.add(part)
        self._stop_writer()

    def on_write_failed(self, error: Exception) -> None:
        self._stop_writer()

    def _stop_writer(self) -> None:
        if self._writer is not None:
            ray.kill(self._writer)
            self._writer = None


def _frame(block: Any) -> pl.DataFrame:
    frame = pl.from_arrow(BlockAccessor.for_block(block).to_arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _guarded(report: WriteReport, rows: int, keep_going: bool, action: Any) -> None:
    try:
        report.rows_written += action()
    except Exception as exc:
        if not keep_going:
            raise
        report.rows_failed += rows
        report.errors.append(f"{type(exc).__name__}: {exc}")


@ray.remote
class _SingleWriter:
    """The one process writing a single-writer store: blocks are appended one at a time."""

    def __init__(self, store: StoreRef, feature: FeatureRef) -> None:
        self._store = store
        self._feature = feature

    def write(self, frame: pl.DataFrame) -> int:
        # opened per block: between blocks other processes (readers of the same file) get their turn
        with self._feature.active(), self._store.opened() as store:
            return write_block(store, self._feature.key, frame)

"""``Increment``: what must be computed for one feature (new, stale) and what is gone (orphaned)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import polars as pl

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True)
class Increment(Generic[FrameT]):
    """The result of ``resolve_update``.

    Attributes:
        new: expected samples with no stored row in this store.
        stale: samples whose stored row was computed from other inputs or another definition of the
            feature; rows carry the *new* provenance columns, ready to be written after recomputation.
        orphaned: stored samples that no longer exist upstream.
        failed: samples to (re)compute whose latest attempt at their current provenance failed
            (``store.write_errors``): the rows they would have in ``new``/``stale`` plus
            ``error_type``, ``error_message``, ``attempts`` and ``last_attempt_at``. They are left out
            of ``new`` and ``stale`` unless a retry is asked (docs/failures.md).

    Unpacking gives the first three (``new, stale, orphaned = increment``, as Metaxy 0.1.x's tuples).
    """

    new: FrameT
    stale: FrameT
    orphaned: FrameT
    failed: FrameT = field(default=None)  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self) -> None:
        polars_frames = isinstance(self.new, pl.DataFrame | pl.LazyFrame)
        if self.failed is None and polars_frames:  # an engine's increment, before failures are applied
            failed = self.new.clear().with_columns(
                pl.lit(None, pl.String).alias("error_type"),
                pl.lit(None, pl.String).alias("error_message"),
                pl.lit(None, pl.Int64).alias("attempts"),
                pl.lit(None, pl.Datetime("us", "UTC")).alias("last_attempt_at"),
            )
            object.__setattr__(self, "failed", failed)

    def collect(self) -> Increment[pl.DataFrame]:
        """Collect a lazy increment in one pass (shared sub-plans are computed once)."""
        frames = (self.new, self.stale, self.orphaned, self.failed)
        if all(isinstance(f, pl.DataFrame) for f in frames):
            return self  # type: ignore[return-value]
        new, stale, orphaned, failed = pl.collect_all([f.lazy() for f in frames])
        return Increment(new, stale, orphaned, failed)

    def __iter__(self) -> Iterator[FrameT]:
        """``new, stale, orphaned = increment`` (Metaxy 0.1.x's increments were tuples)."""
        return iter((self.new, self.stale, self.orphaned))

    def to_polars(self) -> Increment[pl.DataFrame]:
        """Metaxy 0.1.x's conversion: the frames already are Polars, so this collects a lazy increment."""
        return self.collect()

    @property
    def counts(self) -> dict[str, int]:
        """Row counts of ``new``, ``stale`` and ``orphaned`` (collects a lazy increment); the failed
        samples, left out until retried, are ``failed.height``."""
        done = self.collect()
        return {"new": done.new.height, "stale": done.stale.height, "orphaned": done.orphaned.height}

    @property
    def is_empty(self) -> bool:
        """Nothing to compute or remove (failed samples do not count)."""
        return not any(self.counts.values())

    def to_recompute(self) -> FrameT:
        """``new`` and ``stale`` together: every sample to (re)compute."""
        if isinstance(self.new, pl.LazyFrame):
            return pl.concat([self.new, self.stale], how="diagonal_relaxed")  # type: ignore[return-value]
        return pl.concat([self.new, self.stale], how="diagonal_relaxed")  # type: ignore[return-value]

    def __repr__(self) -> str:
        if isinstance(self.new, pl.LazyFrame):
            return "Increment(lazy)"
        c = self.counts
        failed = f", failed={self.failed.height}" if self.failed.height else ""
        return f"Increment(new={c['new']}, stale={c['stale']}, orphaned={c['orphaned']}{failed})"

    def _repr_html_(self) -> str:
        done = self.collect()
        parts = []
        for name in ("new", "stale", "orphaned", "failed"):
            frame = getattr(done, name)
            parts.append(
                f"<details><summary><b>{name}</b>: {frame.height} rows</summary>{frame.head(5)._repr_html_()}</details>"
            )
        return f"<div><b>{html.escape(repr(done))}</b>{''.join(parts)}</div>"

"""``Increment``: what must be computed for one feature (new, stale) and what is gone (orphaned)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
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
    """

    new: FrameT
    stale: FrameT
    orphaned: FrameT

    def collect(self) -> Increment[pl.DataFrame]:
        """Collect a lazy increment in one pass (shared sub-plans are computed once)."""
        frames = (self.new, self.stale, self.orphaned)
        if all(isinstance(f, pl.DataFrame) for f in frames):
            return self  # type: ignore[return-value]
        new, stale, orphaned = pl.collect_all([f.lazy() for f in frames])
        return Increment(new, stale, orphaned)

    def __iter__(self) -> Iterator[FrameT]:
        """``new, stale, orphaned = increment`` (Metaxy 0.1.x's increments were tuples)."""
        return iter((self.new, self.stale, self.orphaned))

    def to_polars(self) -> Increment[pl.DataFrame]:
        """Metaxy 0.1.x's conversion: the frames already are Polars, so this collects a lazy increment."""
        return self.collect()

    @property
    def counts(self) -> dict[str, int]:
        """Row counts per part (collects a lazy increment)."""
        done = self.collect()
        return {"new": done.new.height, "stale": done.stale.height, "orphaned": done.orphaned.height}

    @property
    def is_empty(self) -> bool:
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
        return f"Increment(new={c['new']}, stale={c['stale']}, orphaned={c['orphaned']})"

    def _repr_html_(self) -> str:
        done = self.collect()
        parts = []
        for name in ("new", "stale", "orphaned"):
            frame = getattr(done, name)
            parts.append(
                f"<details><summary><b>{name}</b>: {frame.height} rows</summary>{frame.head(5)._repr_html_()}</details>"
            )
        return f"<div><b>{html.escape(repr(done))}</b>{''.join(parts)}</div>"

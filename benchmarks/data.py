"""The benchmark's data, shared by our runner, the Metaxy 0.1.11 anchor and the floor.

Pure NumPy + Polars (no ``metaxy`` import): ``anchor.py`` loads this file inside a virtualenv whose
``metaxy`` is 0.1.11, so the three implementations resolve byte-identical inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

ID = "sample_uid"
PROVENANCE_BY_FIELD = "metaxy_provenance_by_field"  # same column name in Metaxy 0.1.11
CODE_VERSION = "1"
BUMPED_FIELD = "audio"
BUMP_FRACTION = 0.1
BUMP_SEED = 777
ROOT_SEED = 42


@dataclass(frozen=True)
class Shape:
    """One benchmark graph without any library: root keys, their fields, the leaf and its fields."""

    roots: tuple[str, ...]
    root_fields: tuple[str, ...]
    leaf: str
    leaf_fields: tuple[str, ...]


SHAPES: dict[str, Shape] = {
    "simple": Shape(("bench/simple_root",), ("audio", "frames"), "bench/simple_leaf", ("prediction",)),
    "wide": Shape(
        ("bench/wide_root_0", "bench/wide_root_1"),
        ("audio", "frames", "optical_flow", "embedding"),
        "bench/wide_leaf",
        ("prediction_a", "prediction_b"),
    ),
}


def root_frame(n: int, fields: tuple[str, ...], seed: int) -> pl.DataFrame:
    """N samples (ids ``0..N-1``) whose per-field versions look like ``"a381922"`` (first letter + int)."""
    rng = np.random.default_rng(seed)
    versions = pl.select(
        **{
            f: pl.lit(f[0]) + pl.Series(rng.integers(0, 2**20, n, dtype=np.int64)).cast(pl.String)
            for f in fields
        }
    )
    return pl.DataFrame({ID: np.arange(n, dtype=np.int64)}).with_columns(
        versions.to_struct(PROVENANCE_BY_FIELD)
    )


def root_seed(index: int) -> int:
    """Seed of the ``index``-th root of a graph (42, 43, ...)."""
    return ROOT_SEED + index


def bump(
    df: pl.DataFrame, field: str = BUMPED_FIELD, seed: int = BUMP_SEED
) -> tuple[pl.DataFrame, np.ndarray]:
    """Copy of ``df`` with ``field`` bumped for exactly 10% of samples; also the sorted bumped ids."""
    n = df.height
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).choice(n, size=round(n * BUMP_FRACTION), replace=False)] = True
    versions = df[PROVENANCE_BY_FIELD].struct.unnest()
    versions = versions.with_columns(
        pl.when(pl.Series(mask)).then(pl.col(field) + "_bumped").otherwise(pl.col(field)).alias(field)
    )
    return df.with_columns(versions.to_struct(PROVENANCE_BY_FIELD)), np.sort(df[ID].to_numpy()[mask])


def answer(phase: str, increment: Any, n: int, bumped_ids: np.ndarray | None = None) -> tuple[bool, int, int]:
    """(correct, rows new, rows stale) of a phase's increment (Polars frames ``new``, ``stale``, ``orphaned``).

    ``new``: every one of the N samples is new, none stale. ``stale``: nothing new, exactly
    ``bumped_ids`` stale, no orphans.
    """
    new, stale = increment.new, increment.stale
    if phase == "new":
        ok = new.height == n and new[ID].n_unique() == n and stale.height == 0
    else:
        assert bumped_ids is not None, "the stale phase is checked against the bumped ids"
        stale_ids = np.sort(stale[ID].to_numpy())
        ok = new.height == 0 and np.array_equal(stale_ids, bumped_ids) and increment.orphaned.height == 0
    return bool(ok), new.height, stale.height

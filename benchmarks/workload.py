"""The DESIGN §10 workload: graphs ``simple`` and ``wide``, synthetic root metadata, the 10% bump.

Keys, fields, ids, seeds and version strings match ``../shared/bench/anchor_metaxy.py`` so our numbers
sit beside Metaxy 0.1.11's and the hand-written floor's on identical data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

import metaxy as mx
from metaxy.constants import PROVENANCE_BY_FIELD

ID = "sample_uid"
BUMPED_FIELD = "audio"
BUMP_FRACTION = 0.1
BUMP_SEED = 777
ROOT_SEED = 42


@dataclass
class Workload:
    """One benchmark graph: its roots (in seeding order), the leaf, and the roots' field names."""

    graph: mx.FeatureGraph
    roots: list[type[mx.Feature]]
    leaf: type[mx.Feature]
    root_fields: tuple[str, ...]


def _root(key: str, fields: tuple[str, ...]) -> type[mx.Feature]:
    class Root(
        mx.Feature,
        spec=mx.FeatureSpec(key=key, fields=[mx.FieldSpec(key=f, code_version="1") for f in fields]),
    ):
        pass

    return Root


def _leaf(key: str, roots: list[type[mx.Feature]], fields: tuple[str, ...]) -> type[mx.Feature]:
    class Leaf(
        mx.Feature,
        spec=mx.FeatureSpec(
            key=key,
            deps=[mx.FeatureDep(feature=r) for r in roots],
            fields=[mx.FieldSpec(key=f, code_version="1") for f in fields],
        ),
    ):
        pass

    return Leaf


def build_simple() -> Workload:
    """One root (audio, frames) feeding one leaf field."""
    graph = mx.FeatureGraph()
    fields = ("audio", "frames")
    with graph.use():
        root = _root("bench/simple_root", fields)
        leaf = _leaf("bench/simple_leaf", [root], ("prediction",))
    return Workload(graph, [root], leaf, fields)


def build_wide() -> Workload:
    """Two roots with four fields each feeding a leaf with two fields."""
    graph = mx.FeatureGraph()
    fields = ("audio", "frames", "optical_flow", "embedding")
    with graph.use():
        roots = [_root(f"bench/wide_root_{i}", fields) for i in range(2)]
        leaf = _leaf("bench/wide_leaf", roots, ("prediction_a", "prediction_b"))
    return Workload(graph, roots, leaf, fields)


BUILDERS: dict[str, Callable[[], Workload]] = {"simple": build_simple, "wide": build_wide}


def root_frame(n: int, fields: tuple[str, ...], seed: int) -> pl.DataFrame:
    """N samples whose per-field versions look like ``"a381922"`` (first letter + random int)."""
    rng = np.random.default_rng(seed)
    versions = pl.select(
        **{
            f: pl.lit(f[0]) + pl.Series(rng.integers(0, 2**20, n, dtype=np.int64)).cast(pl.String)
            for f in fields
        }
    )
    return pl.DataFrame({ID: np.arange(n, dtype=np.uint64)}).with_columns(
        versions.to_struct(PROVENANCE_BY_FIELD)
    )


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


def root_frames(workload: Workload, n: int) -> Iterator[pl.DataFrame]:
    """The seeded frames of the roots in order, same seeds as the anchor (42, 43, ...).

    Generated one at a time, so a caller that writes each and lets it go holds one frame at most.
    """
    for i in range(len(workload.roots)):
        yield root_frame(n, workload.root_fields, ROOT_SEED + i)

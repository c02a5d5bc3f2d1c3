"""The benchmark graphs ``simple`` and ``wide`` in this metaxy's API, over the data of ``data.py``.

The Metaxy 0.1.11 anchor (``anchor.py``) and the floor (``floor.py``) build the same graphs from the
same :data:`~benchmarks.data.SHAPES` and the same seeded frames, so the numbers sit side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import polars as pl

import metaxy as mx
from benchmarks.data import BUMPED_FIELD, CODE_VERSION, ID, SHAPES, Shape, bump, root_frame, root_seed

__all__ = ["BUILDERS", "BUMPED_FIELD", "ID", "Workload", "bump", "root_frames"]


@dataclass
class Workload:
    """One benchmark graph: its name, roots (in seeding order), the leaf, and the roots' field names."""

    name: str
    graph: mx.FeatureGraph
    roots: list[type[mx.Feature]]
    leaf: type[mx.Feature]
    root_fields: tuple[str, ...]


def _feature(key: str, fields: tuple[str, ...], deps: list[type[mx.Feature]]) -> type[mx.Feature]:
    class Bench(
        mx.Feature,
        spec=mx.FeatureSpec(
            key=key,
            deps=[mx.FeatureDep(feature=d) for d in deps],
            fields=[mx.FieldSpec(key=f, code_version=CODE_VERSION) for f in fields],
        ),
    ):
        pass

    return Bench


def build(name: str, shape: Shape) -> Workload:
    """The graph ``name`` of shape ``shape`` in a graph of its own."""
    graph = mx.FeatureGraph()
    with graph.use():
        roots = [_feature(key, shape.root_fields, []) for key in shape.roots]
        leaf = _feature(shape.leaf, shape.leaf_fields, roots)
    return Workload(name, graph, roots, leaf, shape.root_fields)


BUILDERS: dict[str, Callable[[], Workload]] = {
    name: partial(build, name, shape) for name, shape in SHAPES.items()
}


def root_frames(workload: Workload, n: int) -> Iterator[pl.DataFrame]:
    """The seeded frames of the roots in order, same seeds as the anchor (42, 43, ...).

    Generated one at a time, so a caller that writes each and lets it go holds one frame at most.
    """
    for i in range(len(workload.roots)):
        yield root_frame(n, workload.root_fields, root_seed(i))

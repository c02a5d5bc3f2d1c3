"""A writer process for the concurrency tests (importable, so ``spawn`` can run it)."""

from __future__ import annotations

from typing import Any

import metaxy as mx
from tests.stores.graphs import video_graph, videos


def write_many(catalog: Any, name: str, writes: int, start: Any) -> None:
    """Write ``writes`` times through a store named ``name`` that registers in ``catalog``."""
    with mx.FeatureGraph().use():
        g = video_graph()
        start.wait(timeout=60)  # every writer begins together, to collide on the catalog
        with mx.InMemoryMetadataStore(name=name, catalog=catalog) as store:
            for i in range(writes):
                store.write_metadata(g.video, videos([i]))
        catalog.close()

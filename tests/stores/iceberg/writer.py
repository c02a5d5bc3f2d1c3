"""A separate writer process for the concurrency test:
``python -m tests.stores.iceberg.writer WAREHOUSE CATALOG_URI START N OPTIONS``.

Appends ``N`` single-row writes (ids ``START..START+N-1``) to ``video/raw`` through its own store.
"""

from __future__ import annotations

import json
import sys

import metaxy as mx
from tests.stores.graphs import video_graph, videos


def main(warehouse: str, catalog_uri: str, start: int, count: int, options: dict[str, str] | None) -> None:
    with mx.FeatureGraph().use():
        g = video_graph()
        with mx.IcebergMetadataStore(warehouse, catalog_uri=catalog_uri, storage_options=options) as store:
            for uid in range(start, start + count):
                store.write_metadata(g.video, videos([uid]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5]) or None)

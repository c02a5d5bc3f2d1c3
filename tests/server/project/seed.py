"""Seed the dev store: 3 videos (video 3 re-uploaded), 2 transcripts, a pushed snapshot."""

from __future__ import annotations

import polars as pl

import metaxy as mx
from metaxy.config import load_config, load_entrypoints
from metaxy.stores.registry import store_from_config

config = load_config()
load_entrypoints(config)
videos = pl.DataFrame(
    {
        "sample_uid": [1, 2, 3],
        "path": ["a.mp4", "b.mp4", "c.mp4"],
        "metaxy_provenance_by_field": [{"audio": f"a{i}", "frames": f"f{i}"} for i in (1, 2, 3)],
    }
)
with store_from_config(config) as store:
    store.write_metadata("video/raw", videos)
    todo = store.resolve_update("video/transcript").new
    store.write_metadata(
        "video/transcript", todo.filter(pl.col("sample_uid") < 3).with_columns(text=pl.lit("hi"))
    )
    store.write_metadata(
        "video/raw",
        videos.filter(pl.col("sample_uid") == 2).with_columns(
            metaxy_provenance_by_field=pl.lit({"audio": "a2b", "frames": "f2"})
        ),
    )
    mx.push_graph_snapshot(store)

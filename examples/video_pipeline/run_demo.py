"""The metaxy demo: materialize a video pipeline, bump the audio code version, see what is stale.

Run with ``make demo``. Uses an embedded DuckDB store in a temporary directory, so it runs anywhere
without a server and leaves nothing behind.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))

from features import define

import metaxy as mx

console = Console()
N_VIDEOS = 6


def raw_videos() -> pl.DataFrame:
    """What an ingestion job would hand us: ids, paths and per-field content hashes."""
    ids = [f"vid_{i:03d}" for i in range(N_VIDEOS)]
    return pl.DataFrame(
        {
            "video_id": ids,
            "path": [f"s3://videos/{i}.mp4" for i in ids],
            "metaxy_provenance_by_field": [{"audio": f"a-{i}", "frames": f"f-{i}"} for i in range(N_VIDEOS)],
        }
    )


def transcribe(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(text=pl.lit("hello world"))  # the expensive GPU job, in real life


def detect_faces(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(n_faces=pl.col("video_id").str.slice(-1).cast(pl.Int64) % 3)


def show(title: str, increments: dict[str, mx.Increment[pl.DataFrame]]) -> None:
    table = Table(title=title)
    for column in ("feature", "new", "stale", "orphaned", "samples to compute"):
        table.add_column(column)
    for name, inc in increments.items():
        todo = inc.to_recompute()
        ids = ", ".join(sorted(todo["video_id"].to_list())) or "-"
        c = inc.counts
        table.add_row(name, str(c["new"]), str(c["stale"]), str(c["orphaned"]), ids)
    console.print(table)


def run_pipeline(
    store: mx.MetadataStore, features: dict[str, type[mx.Feature]], title: str
) -> dict[str, mx.Increment[pl.DataFrame]]:
    """One pass over the pipeline in dependency order: resolve, compute what is missing, write."""
    video, transcript, faces = features["video"], features["transcript"], features["faces"]
    increments = {"video/raw": store.resolve_update(video, samples=raw_videos())}
    store.write_metadata(video, increments["video/raw"].to_recompute())
    for feature, compute in ((transcript, transcribe), (faces, detect_faces)):
        inc = store.resolve_update(feature)
        increments[feature.key().to_string()] = inc
        todo = inc.to_recompute()
        if todo.height:
            store.write_metadata(feature, compute(todo))
    show(title, increments)
    return increments


def main() -> list[dict[str, mx.Increment[pl.DataFrame]]]:
    """Run the three passes; returns each pass's increments (the tests read them)."""
    workdir = tempfile.TemporaryDirectory(prefix="metaxy-demo-")
    store = mx.DuckDBMetadataStore(Path(workdir.name) / "demo.duckdb")
    console.print(f"store: {store!r} in {workdir.name}")
    with workdir, store:
        console.rule("[bold]1. First run: everything is new")
        first = run_pipeline(store, define(audio_code_version="1"), "first run")

        console.rule("[bold]2. Run again: nothing to do")
        second = run_pipeline(store, define(audio_code_version="1"), "second run")

        console.rule("[bold]3. Bump the audio code version (e.g. a new resampler)")
        features = define(audio_code_version="2")
        video = features["video"]
        console.print(f"video/raw field versions now: {video.field_versions()}")
        third = run_pipeline(store, features, "after the audio bump: transcripts are stale, faces are not")

        final = store.read_metadata(features["transcript"]).collect()
        console.print(
            f"transcripts stored: {final.height}; rows in history: "
            f"{store.read_metadata(features['transcript'], history=True).collect().height}"
        )
    return [first, second, third]


if __name__ == "__main__":
    main()

"""Video → transcript on a local Ray cluster: resolve_update → Ray map → sink → resolve_update is empty.

    python examples/ray_pipeline/run_ray.py

The store is a Delta table in a temporary directory (every worker appends to it directly); the
transcripts are computed by Ray tasks, one shard of the increment per read task. On a real cluster
the store would live on S3 and ``ray.init`` would name the cluster (docs/distributed.md).
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

import polars as pl
import pyarrow as pa
import ray

import metaxy as mx
from metaxy.integrations.ray import MetaxyDatasink, MetaxyDatasource

N_VIDEOS = 2000


def define() -> tuple[type[mx.Feature], type[mx.Feature]]:
    class Video(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="example/video",
            id_columns=["video_id"],
            fields=[mx.FieldSpec(key="audio"), mx.FieldSpec(key="frames")],
        ),
    ):
        path: str

    class Transcript(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="example/transcript",
            id_columns=["video_id"],
            deps=[mx.FeatureDep(feature=Video)],
            fields=[mx.FieldSpec(key="text", deps=[mx.FieldDep(feature=Video, fields=["audio"])])],
        ),
    ):
        text: str

    return Video, Transcript


def raw_videos(audio_version: str = "1") -> pl.DataFrame:
    """What an ingestion job would hand us: ids, paths and per-field content hashes."""
    ids = [f"vid_{i:05d}" for i in range(N_VIDEOS)]
    return pl.DataFrame(
        {
            "video_id": ids,
            "path": [f"s3://videos/{i}.mp4" for i in ids],
            "metaxy_provenance_by_field": [
                {"audio": f"a{audio_version}-{i}", "frames": f"f-{i}"} for i in ids
            ],
        }
    )


def transcribe(batch: pa.Table) -> pa.Table:
    """The expensive model, in real life: here, a string derived from the path."""
    texts = [f"transcript of {p}" for p in batch.column("path").to_pylist()]
    return batch.append_column("text", pa.array(texts, pa.string()))


def run_transcripts(store: partial[mx.MetadataStore], transcript: type[mx.Feature]) -> int:
    """One pass: read the increment by shards in the workers, transcribe, write through the sink."""
    todo = ray.data.read_datasource(MetaxyDatasource(transcript, store=store, num_shards=4))
    sink = MetaxyDatasink(transcript, store=store)
    todo.map_batches(transcribe, batch_format="pyarrow").write_datasink(sink)
    return sink.report.rows_written


def main() -> dict[str, object]:
    """Materialize, change half the audio, recompute; returns what each step saw (the tests read it)."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    workdir = tempfile.TemporaryDirectory(prefix="metaxy-ray-")
    store = partial(mx.DeltaMetadataStore, str(Path(workdir.name) / "meta"))
    video, transcript = define()
    seen: dict[str, object] = {}
    try:
        with store() as opened:
            opened.write_metadata(video, raw_videos())
            seen["first"] = opened.resolve_update(transcript).counts
        seen["written_first"] = run_transcripts(store, transcript)
        with store() as opened:
            seen["after_first"] = opened.resolve_update(transcript).counts
            changed = raw_videos(audio_version="2").head(N_VIDEOS // 2)
            opened.write_metadata(video, changed)  # new audio for half of the videos
            seen["after_change"] = opened.resolve_update(transcript).counts
        seen["written_second"] = run_transcripts(store, transcript)
        with store() as opened:
            seen["final"] = opened.resolve_update(transcript).counts
    finally:
        workdir.cleanup()
        if started:
            ray.shutdown()
    for step, value in seen.items():
        print(f"{step:>15}: {value}")
    return seen


if __name__ == "__main__":
    main()

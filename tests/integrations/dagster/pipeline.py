"""The video pipeline the Dagster tests run: features, raw samples and the three feature assets."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

import metaxy as mx
from metaxy.integrations.dagster import FeatureContext, metaxy_asset

CATEGORIES = ("news", "sports")


def define(audio: str = "1") -> dict[str, type[mx.Feature]]:
    """video/raw (audio, frames) → video/transcript (reads audio) and video/faces (reads frames)."""

    class Video(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/raw",
            id_columns=["video_id"],
            fields=[
                mx.FieldSpec(key="audio", code_version=audio),
                mx.FieldSpec(key="frames", code_version="1"),
            ],
            description="Uploaded videos.",
        ),
    ):
        path: str
        category: str

    class Transcript(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/transcript",
            id_columns=["video_id"],
            deps=[mx.FeatureDep(feature=Video, columns=["path", "category"])],
            fields=[
                mx.FieldSpec(
                    key="text", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["audio"])]
                )
            ],
            description="Speech to text.",
        ),
    ):
        text: str

    class Faces(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/faces",
            id_columns=["video_id"],
            deps=[mx.FeatureDep(feature=Video, columns=["category"])],
            fields=[
                mx.FieldSpec(
                    key="boxes", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["frames"])]
                )
            ],
        ),
    ):
        n_faces: int

    return {"video": Video, "transcript": Transcript, "faces": Faces}


def raw_videos(n: int = 6, *, audio: str = "a") -> pl.DataFrame:
    ids = [f"v{i}" for i in range(n)]
    return pl.DataFrame(
        {
            "video_id": ids,
            "path": [f"{i}.mp4" for i in ids],
            "category": [CATEGORIES[i % 2] for i in range(n)],
            "metaxy_provenance_by_field": [{"audio": f"{audio}{i}", "frames": f"f{i}"} for i in range(n)],
        }
    )


def build_assets(
    features: dict[str, type[mx.Feature]], *, videos: pl.DataFrame | None = None, **transcript_options: Any
) -> list[dg.AssetsDefinition]:
    """The three assets; ``transcript_options`` go to the transcript's ``metaxy_asset`` (partitions)."""
    samples = raw_videos() if videos is None else videos

    @metaxy_asset(features["video"])
    def video(ctx: FeatureContext) -> pl.DataFrame:
        return ctx.resolve_update(samples=samples).to_recompute()

    @metaxy_asset(features["transcript"], **transcript_options)
    def transcript(ctx: FeatureContext) -> pl.DataFrame:
        todo = ctx.resolve_update().to_recompute()
        return todo.with_columns(text=pl.lit("hello ") + pl.col("video_id"))

    @metaxy_asset(features["faces"])
    def faces(ctx: FeatureContext) -> pl.DataFrame:
        todo = ctx.resolve_update().to_recompute()
        return todo.with_columns(n_faces=pl.col("video_id").str.slice(1).cast(pl.Int64) % 3)

    return [video, transcript, faces]

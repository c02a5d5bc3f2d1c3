"""Feature graphs and sample frames shared by the store tests."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

import metaxy as mx


@dataclass
class VideoGraph:
    video: type[mx.Feature]
    transcript: type[mx.Feature]
    faces: type[mx.Feature]


def video_graph() -> VideoGraph:
    """``video`` (audio, frames) → ``transcript`` (reads audio) and ``faces`` (reads frames)."""

    class Video(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/raw",
            fields=[
                mx.FieldSpec(key="audio", code_version="1"),
                mx.FieldSpec(key="frames", code_version="1"),
            ],
        ),
    ):
        path: str

    class Transcript(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/transcript",
            deps=[mx.FeatureDep(feature=Video)],
            fields=[
                mx.FieldSpec(
                    key="text", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["audio"])]
                )
            ],
        ),
    ):
        pass

    class Faces(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/faces",
            deps=[mx.FeatureDep(feature=Video, columns=[])],
            fields=[
                mx.FieldSpec(
                    key="boxes", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["frames"])]
                )
            ],
        ),
    ):
        pass

    return VideoGraph(Video, Transcript, Faces)


def videos(ids: list[int], *, audio: str = "a", frames: str = "f") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sample_uid": ids,
            "path": [f"v{i}.mp4" for i in ids],
            "metaxy_provenance_by_field": [{"audio": f"{audio}{i}", "frames": f"{frames}{i}"} for i in ids],
        },
        schema_overrides={"sample_uid": pl.Int64},
    )


def bump(key: str, field: str, code_version: str) -> None:
    """Replace ``key``'s definition in the active graph with ``field`` at ``code_version``."""
    graph = mx.FeatureGraph.get_active()
    spec = graph.spec(key)
    fields = tuple(
        f.model_copy(update={"code_version": code_version}) if f.key.to_string() == field else f
        for f in spec.fields
    )
    graph.add_feature(spec.model_copy(update={"fields": fields}))

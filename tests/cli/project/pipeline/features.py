"""Feature definitions of the sample project (the config's entrypoint)."""

from __future__ import annotations

import metaxy as mx


class Video(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="video/raw",
        id_columns=["video_id"],
        fields=[mx.FieldSpec(key="audio", code_version="1"), mx.FieldSpec(key="frames", code_version="1")],
        description="Uploaded videos, split into an audio track and frames.",
    ),
):
    path: str


class Transcript(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="video/transcript",
        id_columns=["video_id"],
        deps=[mx.FeatureDep(feature=Video, columns=["path"])],
        fields=[
            mx.FieldSpec(key="text", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["audio"])])
        ],
        description="Speech-to-text of the audio track.",
    ),
):
    text: str
    language: str


class Faces(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="video/faces",
        id_columns=["video_id"],
        deps=[mx.FeatureDep(feature=Video, columns=["path"])],
        fields=[
            mx.FieldSpec(key="boxes", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["frames"])])
        ],
        description="Face bounding boxes detected in the frames.",
    ),
):
    n_faces: int

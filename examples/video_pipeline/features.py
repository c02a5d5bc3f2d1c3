"""A small multimodal pipeline: raw videos, their audio transcripts and face detections.

``video/transcript`` reads only the ``audio`` field of ``video/raw``; ``video/faces`` reads only
``frames``. So a change to audio never asks for face detection to be recomputed.
"""

from __future__ import annotations

import metaxy as mx

AUDIO_CODE_VERSION = "1"


def define(audio_code_version: str = AUDIO_CODE_VERSION) -> dict[str, type[mx.Feature]]:
    """Declare the pipeline's features in the active graph (re-running it replaces them)."""

    class Video(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/raw",
            id_columns=["video_id"],
            fields=[
                mx.FieldSpec(key="audio", code_version=audio_code_version),
                mx.FieldSpec(key="frames", code_version="1"),
            ],
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
                mx.FieldSpec(
                    key="text", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["audio"])]
                )
            ],
            description="Speech-to-text of the audio track.",
        ),
    ):
        text: str

    class Faces(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/faces",
            id_columns=["video_id"],
            deps=[mx.FeatureDep(feature=Video, columns=["path"])],
            fields=[
                mx.FieldSpec(
                    key="boxes", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["frames"])]
                )
            ],
            description="Face bounding boxes detected in the frames.",
        ),
    ):
        n_faces: int

    return {"video": Video, "transcript": Transcript, "faces": Faces}

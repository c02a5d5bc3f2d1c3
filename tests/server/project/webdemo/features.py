"""Videos, their transcripts and faces, and 55 derived features (58 in all: a DAG to pan and zoom)."""

from __future__ import annotations

import metaxy as mx


class Video(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="video/raw",
        id_columns=["sample_uid"],
        fields=[mx.FieldSpec(key="audio", code_version="1"), mx.FieldSpec(key="frames", code_version="1")],
        description="Uploaded videos, split into an audio track and frames.",
    ),
):
    path: str


class Transcript(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="video/transcript",
        id_columns=["sample_uid"],
        deps=[mx.FeatureDep(feature=Video, columns=["path"])],
        fields=[
            mx.FieldSpec(key="text", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["audio"])])
        ],
        description="Speech-to-text of the audio track.",
    ),
):
    text: str


class Faces(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="video/faces",
        id_columns=["sample_uid"],
        deps=[mx.FeatureDep(feature=Video, columns=[])],
        fields=[
            mx.FieldSpec(key="boxes", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["frames"])])
        ],
        description="Face bounding boxes detected in the frames.",
    ),
):
    n_faces: int


def _step(i: int, parents: list[type[mx.Feature]]) -> type[mx.Feature]:
    spec = mx.FeatureSpec(
        key=f"chain/step-{i:02d}",
        id_columns=["sample_uid"],
        deps=[mx.FeatureDep(feature=p, columns=[]) for p in parents],
        fields=[mx.FieldSpec(key="value", code_version="1")],
    )
    return type(f"Step{i:02d}", (mx.Feature,), {"__module__": __name__}, spec=spec)


# 55 more features in 11 layers of 5, each reading one or two of the layer before: a DAG to pan and zoom
_steps: list[type[mx.Feature]] = []
for _i in range(55):
    _first = [Transcript, Faces][_i % 2] if _i < 5 else _steps[_i - 5]
    _steps.append(_step(_i, [_first] if _i < 5 or _i % 3 else [_first, _steps[_i - 4 - (_i % 5 == 4) * 2]]))

"""The small example graph behind the ``populated_store`` fixture, usable on its own.

Graph (three levels, field-level lineage)::

    example/video (audio, frames) ─┬─ audio ──▶ example/transcript (text) ──┐
                                   └─ frames ─▶ example/faces (boxes) ──────┴──▶ example/summary (default)

Samples: ``sample_uid`` 1, 2 and 3 in every feature. User columns: ``path`` (video, ``"video_<uid>.mp4"``),
``text`` (transcript, ``"words <uid>"``), ``n_faces`` (faces, ``uid % 2``), ``title`` (summary,
``"summary <uid>"``). Root provenance: audio ``"audio-<uid>"``, frames ``"frames-<uid>"``. Every
``code_version`` is ``"1"``. After :func:`materialize_example` every ``resolve_update`` is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from metaxy.constants import PROVENANCE_BY_FIELD
from metaxy.models import Feature, FeatureDep, FeatureSpec, FieldDep, FieldSpec
from metaxy.stores.base import MetadataStore

#: the sample ids present in every example feature
EXAMPLE_SAMPLE_UIDS: tuple[int, ...] = (1, 2, 3)


@dataclass(frozen=True)
class ExampleFeatures:
    """The four feature classes of the example graph, in dependency order."""

    video: type[Feature]
    transcript: type[Feature]
    faces: type[Feature]
    summary: type[Feature]

    def in_order(self) -> list[type[Feature]]:
        """The classes upstream first (the order to materialize them in)."""
        return [self.video, self.transcript, self.faces, self.summary]


def define_example_features() -> ExampleFeatures:
    """Define the example features in the active :class:`~metaxy.FeatureGraph` and return them."""

    class Video(
        Feature,
        spec=FeatureSpec(
            key="example/video",
            fields=[FieldSpec(key="audio", code_version="1"), FieldSpec(key="frames", code_version="1")],
        ),
    ):
        path: str

    class Transcript(
        Feature,
        spec=FeatureSpec(
            key="example/transcript",
            deps=[FeatureDep(feature=Video, columns=[])],
            fields=[
                FieldSpec(key="text", code_version="1", deps=[FieldDep(feature=Video, fields=["audio"])])
            ],
        ),
    ):
        text: str

    class Faces(
        Feature,
        spec=FeatureSpec(
            key="example/faces",
            deps=[FeatureDep(feature=Video, columns=[])],
            fields=[
                FieldSpec(key="boxes", code_version="1", deps=[FieldDep(feature=Video, fields=["frames"])])
            ],
        ),
    ):
        n_faces: int

    class Summary(
        Feature,
        spec=FeatureSpec(
            key="example/summary",
            deps=[FeatureDep(feature=Transcript, columns=[]), FeatureDep(feature=Faces, columns=[])],
            fields=[FieldSpec(key="default", code_version="1")],
        ),
    ):
        title: str

    return ExampleFeatures(Video, Transcript, Faces, Summary)


def example_videos(uids: tuple[int, ...] = EXAMPLE_SAMPLE_UIDS) -> pl.DataFrame:
    """Root samples of ``example/video``: ids, paths and per-field provenance."""
    return pl.DataFrame(
        {
            "sample_uid": list(uids),
            "path": [f"video_{uid}.mp4" for uid in uids],
            PROVENANCE_BY_FIELD: [{"audio": f"audio-{uid}", "frames": f"frames-{uid}"} for uid in uids],
        },
        schema_overrides={"sample_uid": pl.Int64},
    )


def _compute(key: str, todo: pl.DataFrame) -> pl.DataFrame:
    """Stand-in for each feature's real computation: deterministic columns from the id."""
    uid = pl.col("sample_uid")
    columns = {
        "example/transcript": pl.format("words {}", uid).alias("text"),
        "example/faces": (uid % 2).alias("n_faces"),
        "example/summary": pl.format("summary {}", uid).alias("title"),
    }
    return todo.with_columns(columns[key])


def materialize_example(store: MetadataStore, features: ExampleFeatures) -> None:
    """Write every example feature into ``store`` (which must be open), upstream first."""
    root = store.resolve_update(features.video, samples=example_videos())
    store.write_metadata(features.video, root.to_recompute())
    for feature in features.in_order()[1:]:
        todo = store.resolve_update(feature).to_recompute()
        store.write_metadata(feature, _compute(feature.spec().key.to_string(), todo))

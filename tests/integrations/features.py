"""Features the integration tests hand to Ray and Dask workers: defined in a module every worker imports.

Imported inside the tests (never at collection), so these classes join no other test's graph.
"""

from __future__ import annotations

import os

import polars as pl

import metaxy as mx


class Video(
    mx.Feature,
    spec=mx.FeatureSpec(key="dist/video", fields=[mx.FieldSpec(key="audio"), mx.FieldSpec(key="frames")]),
):
    path: str


class Transcript(
    mx.Feature,
    spec=mx.FeatureSpec(
        key="dist/transcript",
        deps=[mx.FeatureDep(feature=Video)],
        fields=[mx.FieldSpec(key="text", deps=[mx.FieldDep(feature=Video, fields=["audio"])])],
    ),
):
    text: str


def videos(ids: range | list[int], version: str = "1") -> pl.DataFrame:
    ids = list(ids)
    return pl.DataFrame(
        {
            "sample_uid": ids,
            "path": [f"{i}.mp4" for i in ids],
            "metaxy_provenance_by_field": [{"audio": f"a{i}-{version}", "frames": f"f{i}"} for i in ids],
        },
        schema_overrides={"sample_uid": pl.Int64},
    )


class DyingDeltaStore(mx.DeltaMetadataStore):
    """A Delta store whose process dies right after an append while the ``flag`` file exists (once: the
    first appender removes it)."""

    def __init__(self, table_uri: str, flag: str) -> None:
        super().__init__(table_uri)
        self._flag = flag

    def _append(self, key: mx.FeatureKey, df: pl.DataFrame) -> None:
        super()._append(key, df)
        try:
            os.remove(self._flag)  # one process wins the flag, whichever worker appends first
        except FileNotFoundError:
            return
        os._exit(1)  # the worker dies mid-task, after its first block is committed

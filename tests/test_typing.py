"""The public surface is typed: mypy accepts documented calls, infers lazy/eager increments, and
rejects what the store cannot take (checked by running mypy on a small user script).

pandas and pyarrow ship no type information, so any object passes as their frames: ``FrameLike``
documents what is accepted more than it checks it.
"""

from __future__ import annotations

from pathlib import Path

from mypy import api

REPO = Path(__file__).resolve().parents[1]

USER_SCRIPT = """
from pathlib import Path
from typing import assert_type
import polars as pl
import metaxy as mx
from metaxy.stores import DeltaMetadataStore


class Video(mx.Feature, spec=mx.FeatureSpec(key="video", fields=[mx.FieldSpec(key="audio")])):
    pass


def pipeline(store: mx.MetadataStore, feature: mx.FeatureLike, frame: mx.FrameLike) -> None:
    assert_type(store.resolve_update(Video), mx.Increment[pl.DataFrame])
    assert_type(store.resolve_update("video", lazy=True), mx.Increment[pl.LazyFrame])
    store.write_metadata(feature, frame)
    store.write_metadata(["video"], pl.DataFrame())
    store.write_metadata(3, pl.DataFrame())  # error: not a feature
    mx.InMemoryMetadataStore(hash_algorithm="md5", fallback_stores=[store])
    mx.InMemoryMetadataStore(hash_algoritm="md5")  # error: misspelt option


def stores_of_the_backend_table() -> None:  # typed through metaxy.stores.backends, imported lazily
    assert_type(mx.DuckDBMetadataStore("dev.duckdb").location, str)
    assert_type(DeltaMetadataStore.scratch(Path("tmp")), DeltaMetadataStore)
    assert_type(mx.SQLAlchemyMetadataStore.scratch(Path("tmp")), mx.SQLAlchemyMetadataStore)
    mx.ClickHouseMetadataStore("chdb://ch", databse="x")  # error: misspelt option
"""


def test_mypy_types_increments_by_lazy_and_rejects_wrong_arguments(tmp_path: Path) -> None:
    script = tmp_path / "user_pipeline.py"
    script.write_text(USER_SCRIPT)
    out, _, _ = api.run(
        [
            str(script),
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--follow-imports=silent",
        ]
    )
    errors = sorted(
        int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line and "user_pipeline" in line
    )
    lines = USER_SCRIPT.splitlines()
    expected = sorted(
        i
        for i, text in enumerate(lines, start=1)
        if text.endswith(("# error: not a feature", "# error: misspelt option"))
    )
    assert errors == expected, out

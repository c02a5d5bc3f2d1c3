"""The video pipeline of ``examples/video_pipeline`` as Dagster assets.

Dagster decides which asset runs; metaxy decides which samples inside it: each asset resolves its
increment and computes only new and stale videos. ``python examples/dagster_pipeline/definitions.py``
runs three passes in process (first run, a run with nothing to do, an audio code bump) on an embedded
DuckDB store in a temporary directory; ``dagster dev -f examples/dagster_pipeline/definitions.py``
serves ``defs`` (store: ``$METAXY_DEMO_DB``, default ``demo.duckdb`` in the working directory).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from dagster._utils.test.data_versions import get_stale_status_resolver
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parents[1] / "video_pipeline"))

from features import define
from run_demo import detect_faces, raw_videos, transcribe

import metaxy as mx
from metaxy.integrations.dagster import FeatureContext, metaxy_asset, metaxy_store_resource

console = Console()
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def build_assets(features: dict[str, type[mx.Feature]]) -> list[dg.AssetsDefinition]:
    """One asset per feature; each body computes only the samples its increment asks for."""

    @metaxy_asset(features["video"], kinds=["duckdb"])
    def video(ctx: FeatureContext) -> pl.DataFrame:
        return ctx.resolve_update(samples=raw_videos()).to_recompute()

    @metaxy_asset(features["transcript"], kinds=["duckdb"])
    def transcript(ctx: FeatureContext) -> pl.DataFrame:
        return transcribe(ctx.resolve_update().to_recompute())

    @metaxy_asset(features["faces"], kinds=["duckdb"])
    def faces(ctx: FeatureContext) -> pl.DataFrame:
        return detect_faces(ctx.resolve_update().to_recompute())

    return [video, transcript, faces]


defs = dg.Definitions(
    assets=build_assets(define()),
    resources={
        "metaxy_store": metaxy_store_resource(
            mx.DuckDBMetadataStore(os.environ.get("METAXY_DEMO_DB", "demo.duckdb"))
        )
    },
)


def run_pass(
    title: str, assets: list[dg.AssetsDefinition], store: mx.MetadataStore, instance: dg.DagsterInstance
) -> dict[str, Any]:
    """Ask Dagster what is stale, materialize everything, and show what each asset did."""
    resolver = get_stale_status_resolver(instance, assets)
    stale = {k.to_user_string() for a in assets for k in a.keys if resolver.get_status(k).value == "STALE"}
    result = dg.materialize(
        assets, resources={"metaxy_store": metaxy_store_resource(store)}, instance=instance, run_config=QUIET
    )
    table = Table(title=title)
    for column in ("asset", "stale in Dagster", "new", "stale", "written", "data version"):
        table.add_column(column)
    done: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        key = mat.asset_key.to_user_string()
        meta = {k.removeprefix("metaxy/"): v.value for k, v in mat.metadata.items() if k != "metaxy/preview"}
        done[key] = {**meta, "data_version": mat.tags["dagster/data_version"]}
        table.add_row(
            key,
            "yes" if key in stale else "no",
            *(str(meta[c]) for c in ("new", "stale", "written")),
            done[key]["data_version"][:12],
        )
    console.print(table)
    return {"stale_before": stale, "assets": done}


def main() -> list[dict[str, Any]]:
    """The three passes; returns what each did (the tests read it)."""
    with tempfile.TemporaryDirectory(prefix="metaxy-dagster-") as workdir:
        store = mx.DuckDBMetadataStore(Path(workdir) / "demo.duckdb")
        instance = dg.DagsterInstance.ephemeral(tempdir=str(Path(workdir) / "dagster"))
        console.rule("[bold]1. First run: every video is new")
        first = run_pass("first run", build_assets(define(audio_code_version="1")), store, instance)
        console.rule("[bold]2. Run again: nothing to compute, the data versions stay")
        second = run_pass("second run", build_assets(define(audio_code_version="1")), store, instance)
        console.rule("[bold]3. Bump the audio code version: Dagster and metaxy agree on what is stale")
        third = run_pass(
            "after the audio bump", build_assets(define(audio_code_version="2")), store, instance
        )
    return [first, second, third]


if __name__ == "__main__":
    main()

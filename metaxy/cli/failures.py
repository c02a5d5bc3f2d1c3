"""Commands about single samples and failed ones: ``lookup`` (one sample across the graph), ``errors``."""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
import typer
from rich.table import Table

from metaxy.cli._app import FormatOption, app, is_json, state
from metaxy.cli.features import resolve_key
from metaxy.cli.output import OutputFormat, console, emit_json
from metaxy.ops.failures import error_groups


def parse_ids(pairs: list[str]) -> dict[str, str]:
    """``["video_id=v1", "frame=3"]`` as ``{"video_id": "v1", "frame": "3"}`` (typed by the store)."""
    ids: dict[str, str] = {}
    for pair in pairs:
        column, sep, value = pair.partition("=")
        if not sep or not column:
            raise typer.BadParameter(
                f"{pair!r} is not COLUMN=VALUE. Example: metaxy lookup sample_uid=42.", param_hint="IDS"
            )
        ids[column.strip()] = value
    return ids


@app.command()
def lookup(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Id values as COLUMN=VALUE, e.g. sample_uid=42.")],
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """One sample in every feature keyed by these ids: stored?, current, stale and why, failed, orphaned."""
    cli = state(ctx)
    graph = cli.feature_graph()
    with cli.store(read_only=True) as store:
        frame = store.lookup(parse_ids(ids), graph=graph)
        name = store.name
    records: list[dict[str, Any]] = frame.with_columns(
        pl.col("updated_at").dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00")
    ).to_dicts()
    if is_json(fmt):
        emit_json("lookup", {"store": name, "ids": parse_ids(ids), "features": records})
        return
    table = Table("feature", "sample", "stored", "status", "why", title=f"lookup in store {name}")
    for r in records:
        why = r["reason"] or ""
        if r["error_type"]:
            why = f"{r['error_type']}: {r['error_message']} (attempt {r['attempts']})"
        table.add_row(r["feature"], r["sample"], "yes" if r["stored"] else "no", r["status"], why)
    console().print(table)


@app.command()
def errors(
    ctx: typer.Context,
    feature: Annotated[str, typer.Argument(help="Feature key.")],
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """The feature's failed samples (latest attempt at the current provenance failed), by error type."""
    cli = state(ctx)
    graph = cli.feature_graph()
    key = resolve_key(graph, feature)
    with cli.store(read_only=True) as store:
        groups = error_groups(store, key, graph)
        name = store.name
    total = sum(g.count for g in groups)
    if is_json(fmt):
        payload = {
            "store": name,
            "feature": key.to_string(),
            "failed": total,
            "errors": [g.to_dict() for g in groups],
        }
        emit_json("errors", payload)
        return
    if not groups:
        console().print(f"no failed samples of {key.to_string()} in store {name}.", markup=False)
        return
    table = Table(
        "error type",
        "samples",
        "ids",
        "latest message",
        title=f"{total} failed samples of {key.to_string()} in store {name}",
    )
    for g in groups:
        table.add_row(g.error_type, str(g.count), g.samples_text(), g.message or "")
    console().print(table)

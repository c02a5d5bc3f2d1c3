"""Commands that read or change a store: status, stats, metadata delete, metadata copy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import polars as pl
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from metaxy.cli._app import FormatOption, app, is_json, metadata_app, state
from metaxy.cli.features import resolve_key
from metaxy.cli.output import OutputFormat, console, emit_json
from metaxy.cli.partitions import show_partitions
from metaxy.exceptions import MetaxyError, SchemaError
from metaxy.models.keys import FeatureKey
from metaxy.ops.copy import copy_metadata
from metaxy.ops.delete import count_deletable
from metaxy.ops.stats import feature_stats
from metaxy.ops.status import store_status
from metaxy.ops.stores import describe_stores

FeatureArgs = Annotated[list[str] | None, typer.Argument(help="Features (default: all).", show_default=False)]


@contextmanager
def _progress(total: int) -> Iterator[Progress | None]:
    """A progress bar on stderr when it is a terminal (never in pipes, logs or tests)."""
    err = console(stderr=True)
    if not err.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        progress.add_task("resolving", total=total)
        yield progress


@app.command()
def status(
    ctx: typer.Context,
    features: FeatureArgs = None,
    assert_in_sync: Annotated[
        bool, typer.Option("--assert-in-sync", help="Exit with code 1 when anything is to do.")
    ] = False,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Per feature: samples new, stale, orphaned and failed in the store (what resolve_update returns)."""
    cli = state(ctx)
    graph = cli.feature_graph()
    keys = graph.topological_order([resolve_key(graph, f) for f in features] if features else None)
    with cli.store(read_only=True) as store, _progress(len(keys)) as bar:

        def advance(key: FeatureKey) -> None:
            if bar is not None:
                bar.update(bar.task_ids[0], advance=1, description=key.to_string())

        rows = store_status(store, graph, keys, on_feature=advance)
        name = store.name
    in_sync = all(r.in_sync for r in rows)
    if is_json(fmt):
        emit_json("status", {"store": name, "in_sync": in_sync, "features": [r.to_dict() for r in rows]})
    else:
        table = Table(
            "feature",
            "stored",
            "new",
            "stale",
            "orphaned",
            "failed",
            "state",
            title=f"status of store {name}",
        )
        for r in rows:
            label = (
                r.key.to_string() + (" (root)" if r.is_root else "") + ("*" if r.unit == "parents" else "")
            )
            counts = (r.stored, r.new, r.stale, r.orphaned, r.failed)
            table.add_row(label, *map(str, counts), r.state)
        console().print(table)
        if any(r.unit == "parents" for r in rows):
            console().print(
                "* expansion: stored counts child rows; new, stale and orphaned count parent samples "
                "(each expands into its children).",
                markup=False,
            )
    if assert_in_sync and not in_sync:
        raise typer.Exit(1)


@app.command()
def stats(
    ctx: typer.Context,
    features: FeatureArgs = None,
    partitions: Annotated[
        str | None,
        typer.Option(
            "--partitions", help="Show FEATURE's partitions and the advisor's columns.", metavar="FEATURE"
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Per feature: fields, live samples, stored rows, stored versions, last materialization."""
    if partitions is not None:
        show_partitions(ctx, partitions, fmt)
        return
    cli = state(ctx)
    graph = cli.feature_graph()
    keys = [resolve_key(graph, f) for f in features] if features else graph.topological_order()
    with cli.store(read_only=True) as store:
        rows = [feature_stats(store, key, graph) for key in keys]
        name = store.name
    if is_json(fmt):
        totals = {
            "features": len(rows),
            "fields": sum(r.fields for r in rows),
            "samples": sum(r.samples for r in rows),
            "rows": sum(r.rows for r in rows),
        }
        emit_json("stats", {"store": name, "totals": totals, "features": [r.to_dict() for r in rows]})
        return
    table = Table(
        "feature", "fields", "samples", "rows", "versions", "last materialized", title=f"store {name}"
    )
    for r in rows:
        last = "-" if r.last_materialized_at is None else r.last_materialized_at.isoformat(timespec="seconds")
        table.add_row(r.key.to_string(), str(r.fields), str(r.samples), str(r.rows), str(r.versions), last)
    console().print(table)


@app.command("stores")
def list_stores(ctx: typer.Context, fmt: FormatOption = OutputFormat.TEXT) -> None:
    """The configured stores: type, resolved location, and whether each exists (nothing is created)."""
    cli = state(ctx)
    cli.feature_graph()  # a project's own store classes import like its features
    infos = describe_stores(cli.config)
    if is_json(fmt):
        emit_json("stores", {"config": cli.config.source_file, "stores": [i.to_dict() for i in infos]})
        return
    table = Table("store", "type", "location", "exists", "falls back to", title=f"{len(infos)} stores")
    for i in infos:
        name = i.name + (" (default)" if i.is_default else "")
        fallbacks = ", ".join(i.fallback_stores) or "-"
        table.add_row(name, i.type, i.location, "yes" if i.exists else "no", fallbacks)
    console().print(table)


def parse_filters(texts: list[str] | None) -> list[pl.Expr]:
    """``--filter`` SQL conditions (``"video_id = 'a'"``) as Polars expressions."""
    exprs = []
    for text in texts or []:
        try:
            exprs.append(pl.sql_expr(text))
        except Exception as exc:  # polars raises several error types for bad SQL
            raise typer.BadParameter(
                f"{text!r} is not a SQL condition ({_first_line(exc)}). Example: --filter \"video_id = 'a'\".",
                param_hint="--filter",
            ) from None
    return exprs


@metadata_app.command("delete")
def delete(
    ctx: typer.Context,
    feature: Annotated[str, typer.Argument(help="Feature key.")],
    filters: Annotated[
        list[str] | None, typer.Option("--filter", help="SQL condition; repeat to AND them.")
    ] = None,
    hard: Annotated[bool, typer.Option("--hard", help="Physically remove rows (all versions).")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Required to delete without any --filter.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print how many would be deleted; delete nothing.")
    ] = False,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Delete samples of a feature (soft by default: tombstones; --hard removes rows)."""
    cli = state(ctx)
    key = resolve_key(cli.feature_graph(), feature)
    exprs = parse_filters(filters)
    if not exprs and not yes and not dry_run:
        raise MetaxyError(
            f"Refusing to delete every sample of {key.to_string()!r} without --yes.",
            hint="Pass --filter to choose samples, or --yes to delete them all.",
        )
    with cli.store(read_only=dry_run) as store:
        try:
            if dry_run:
                count = count_deletable(store, key, filters=exprs or None, soft=not hard)
            else:
                count = store.delete_metadata(key, filters=exprs or None, soft=not hard)
        except pl.exceptions.PolarsError as exc:  # e.g. a filter naming a column the feature lacks
            raise SchemaError(
                f"--filter cannot be applied to feature {key.to_string()!r}: {_first_line(exc)}.",
                hint="Filter on the feature's id or user columns (see `metaxy show FEATURE`).",
            ) from exc
        name = store.name
    mode = "hard" if hard else "soft"
    if is_json(fmt):
        payload = {
            "store": name,
            "feature": key.to_string(),
            "mode": mode,
            "dry_run": dry_run,
            "deleted": count,
        }
        emit_json("metadata delete", payload)
        return
    unit = "rows" if hard else "samples"
    if dry_run:
        text = f"dry run: would {mode}-delete {count} {unit} of {key.to_string()} in store {name} (nothing deleted)."
    else:
        text = f"{mode}-deleted {count} {unit} of {key.to_string()} in store {name}."
    console().print(text, markup=False)


@metadata_app.command("copy")
def copy(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--from", help="Store to copy from.")],
    target: Annotated[str, typer.Option("--to", help="Store to copy into.")],
    features: Annotated[
        list[str] | None, typer.Option("--feature", help="Feature to copy; repeat (default: all stored).")
    ] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Copy every stored row, not the latest.")
    ] = False,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Copy stored metadata between two stores; rows the target already holds are skipped."""
    cli = state(ctx)
    graph = cli.feature_graph()
    keys = [resolve_key(graph, f) for f in features] if features else None
    with cli.store(source, read_only=True) as src, cli.store(target) as dst:
        copied = copy_metadata(src, dst, keys, history=history)
    items = {k.to_string(): n for k, n in sorted(copied.items())}
    if is_json(fmt):
        emit_json("metadata copy", {"from": source, "to": target, "copied": items})
        return
    table = Table("feature", "rows copied", title=f"{source} -> {target}")
    for key, n in items.items():
        table.add_row(key, str(n))
    console().print(table)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

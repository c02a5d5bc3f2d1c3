"""Commands about graph history and change: push, history, diff, plan, migrate."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from metaxy.cli._app import FormatOption, app, is_json, state
from metaxy.cli.features import resolve_key
from metaxy.cli.output import OutputFormat, console, emit_json
from metaxy.exceptions import SnapshotNotFoundError
from metaxy.models.diff import GraphDiff, diff_graphs
from metaxy.models.graph import FeatureGraph
from metaxy.ops.impact import count_impact
from metaxy.ops.migrate import migrate_data_versions
from metaxy.ops.snapshots import list_graph_snapshots, load_graph_snapshot, push_graph_snapshot
from metaxy.stores.base import MetadataStore

#: the name standing for the graph defined by the code right now (not a pushed snapshot)
CURRENT = "current"


@app.command()
def push(ctx: typer.Context, fmt: FormatOption = OutputFormat.TEXT) -> None:
    """Record the current feature graph as a snapshot in the store (idempotent)."""
    cli = state(ctx)
    graph = cli.feature_graph()
    with cli.store() as store:
        known = set(list_graph_snapshots(store)["snapshot_id"])
        snapshot_id = push_graph_snapshot(store, graph)
        name = store.name
    already = snapshot_id in known
    if is_json(fmt):
        payload = {
            "store": name,
            "snapshot_id": snapshot_id,
            "features": len(graph),
            "already_pushed": already,
        }
        emit_json("push", payload)
        return
    verb = "was already pushed to" if already else "pushed to"
    console().print(f"snapshot {snapshot_id} ({len(graph)} features) {verb} store {name}.", markup=False)


@app.command()
def history(ctx: typer.Context, fmt: FormatOption = OutputFormat.TEXT) -> None:
    """List the graph snapshots pushed to the store, oldest first."""
    cli = state(ctx)
    with cli.store(read_only=True) as store:
        snapshots = list_graph_snapshots(store)
        name = store.name
    current = cli.feature_graph().project_version()
    rows = [
        {
            "snapshot_id": r["snapshot_id"],
            "pushed_at": r["pushed_at"].isoformat(timespec="seconds"),
            "features": r["feature_count"],
            "is_current": r["snapshot_id"] == current,
        }
        for r in snapshots.iter_rows(named=True)
    ]
    if is_json(fmt):
        emit_json("history", {"store": name, "current": current, "snapshots": rows})
        return
    table = Table("snapshot", "pushed at", "features", "", title=f"graph snapshots in store {name}")
    for r in rows:
        table.add_row(
            r["snapshot_id"], r["pushed_at"], str(r["features"]), "current" if r["is_current"] else ""
        )
    console().print(table)


def _graph_at(store: MetadataStore, ref: str | None, current: FeatureGraph) -> FeatureGraph:
    """``current`` for "current", the latest pushed snapshot for ``None``, else the snapshot ``ref``."""
    if ref == CURRENT:
        return current
    if ref is None:
        ids = list_graph_snapshots(store)["snapshot_id"].to_list()
        if not ids:
            raise SnapshotNotFoundError(
                f"No graph snapshot was pushed to store {store.name} yet, so there is nothing to compare with.",
                hint="Run `metaxy push` to record the current graph, or name two snapshots.",
            )
        ref = ids[-1]
    return load_graph_snapshot(store, ref)


def _diff(ctx: typer.Context, old: str | None, new: str) -> tuple[GraphDiff, dict[str, int], str]:
    cli = state(ctx)
    current = cli.feature_graph()
    with cli.store(read_only=True) as store:
        diff = diff_graphs(_graph_at(store, old, current), _graph_at(store, new, current))
        counts = {k.to_string(): n for k, n in count_impact(store, diff).items()}
        return diff, counts, store.name


OldArg = Annotated[
    str | None, typer.Argument(help="Snapshot id (a prefix is enough); default: the latest pushed.")
]
NewArg = Annotated[str, typer.Argument(help=f"Snapshot id, or {CURRENT!r} for the code (default).")]


@app.command()
def diff(
    ctx: typer.Context, old: OldArg = None, new: NewArg = CURRENT, fmt: FormatOption = OutputFormat.TEXT
) -> None:
    """What changed between two graphs: features and fields, direct changes and downstream impact."""
    changes, _, _ = _diff(ctx, old, new)
    if is_json(fmt):
        emit_json("diff", changes.to_dict())
        return
    _print_diff(changes, None)


@app.command()
def plan(
    ctx: typer.Context, old: OldArg = None, new: NewArg = CURRENT, fmt: FormatOption = OutputFormat.TEXT
) -> None:
    """Like diff, plus how many stored samples of each feature would be recomputed (before running)."""
    changes, counts, name = _diff(ctx, old, new)
    if is_json(fmt):
        emit_json("plan", {"store": name, **changes.to_dict(), "samples_to_recompute": counts})
        return
    _print_diff(changes, counts)


def _print_diff(changes: GraphDiff, counts: dict[str, int] | None) -> None:
    out = console()
    out.print(f"{changes.old_project_version} -> {changes.new_project_version}", markup=False)
    if changes.is_empty:
        out.print("No changes.")
        return
    if changes.added or changes.removed:
        listed = Table("feature", "change", title="added or removed features")
        for label, keys in (("added", changes.added), ("removed", changes.removed)):
            for key in keys:
                listed.add_row(key.to_string(), label)
        out.print(listed)
    if not changes.changed:
        return
    columns = ["feature", "kind", "field", "reason", "code", "version"]
    table = Table(*columns, *(["to recompute"] if counts is not None else []), title="changed features")
    for change in changes.changed:
        kind = "changed" if change.is_direct else "impacted"
        for i, f in enumerate(change.fields):
            row = _field_row(change.feature.to_string() if i == 0 else "", kind if i == 0 else "", f)
            if counts is not None:
                row.append(str(counts.get(change.feature.to_string(), 0)) if i == 0 else "")
            table.add_row(*row)
    out.print(table)


def _field_row(feature: str, kind: str, f: Any) -> list[str]:
    code = f"{f.old_code_version or '-'}→{f.new_code_version or '-'}"
    version = f"{f.old_version or '-'}→{f.new_version or '-'}"
    return [feature, kind, f.field.to_string(), f.reason, code, version]


@app.command()
def migrate(
    ctx: typer.Context,
    feature: Annotated[str, typer.Argument(help="The feature whose code_version you bumped.")],
    code_version: Annotated[
        str | None, typer.Option("--code-version", help="The code version you bumped to (a safety check).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write nothing.")
    ] = False,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Re-stamp stored rows to the current definitions after a refactor that did not change outputs."""
    cli = state(ctx)
    key = resolve_key(cli.feature_graph(), feature)
    with cli.store(read_only=dry_run) as store:
        report = migrate_data_versions(store, key, new_code_version=code_version, dry_run=dry_run)
        name = store.name
    if is_json(fmt):
        emit_json("migrate", {"store": name, **report.to_dict()})
        return
    title = f"{'dry run: ' if dry_run else ''}migration of {key.to_string()} in store {name}"
    table = Table("feature", "to version", "from versions", "migrated", "left stale", title=title)
    for f in report.features:
        table.add_row(
            f.feature.to_string(),
            f.to_version,
            ", ".join(f.from_versions) or "-",
            str(f.migrated),
            str(f.skipped),
        )
    console().print(table)

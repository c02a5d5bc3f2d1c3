"""``metaxy stats --partitions FEATURE``: a feature's partition layout, its files, and the advisor's columns."""

from __future__ import annotations

import typer
from rich.table import Table

from metaxy.cli._app import is_json, state
from metaxy.cli.features import resolve_key
from metaxy.cli.output import OutputFormat, console, emit_json
from metaxy.ops.partitions import partition_report


def show_partitions(ctx: typer.Context, feature: str, fmt: OutputFormat) -> None:
    """Print the partition report of ``feature`` in the selected store."""
    cli = state(ctx)
    graph = cli.feature_graph()
    key = resolve_key(graph, feature)
    with cli.store(read_only=True) as store:
        report = partition_report(store, key)
        name = store.name
    if is_json(fmt):
        emit_json("partitions", {"store": name, **report.to_dict()})
        return
    table = Table(
        "feature", "partitioned by", "files", "rows", "advisor suggests", title=f"partitions in store {name}"
    )
    table.add_row(
        key.to_string(),
        ", ".join(report.columns) or "-",
        "-" if report.files is None else str(report.files),
        str(report.rows),
        ", ".join(report.advice) or "no partitions",
    )
    console().print(table)

"""Commands about definitions (no store needed): list, show, graph, search."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from metaxy.cli._app import FormatOption, app, is_json, state
from metaxy.cli.output import OutputFormat, console, emit_json
from metaxy.exceptions import FeatureNotFoundError
from metaxy.models.describe import describe_feature, describe_graph, neighbourhood
from metaxy.models.fields import coerce_feature_key
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.render import graph_dot, graph_mermaid
from metaxy.models.search import search_features


class GraphFormat(StrEnum):
    """How ``metaxy graph`` draws the graph."""

    TREE = "tree"
    MERMAID = "mermaid"
    DOT = "dot"
    JSON = "json"


@app.command("list")
def list_features(ctx: typer.Context, fmt: FormatOption = OutputFormat.TEXT) -> None:
    """List the project's features (upstream first) with their versions."""
    graph = state(ctx).feature_graph()
    items = [describe_feature(graph, key) for key in graph.topological_order()]
    if is_json(fmt):
        emit_json("list", {"features": items})
        return
    table = Table("feature", "version", "fields", "upstream", title=f"{len(items)} features")
    for item in items:
        fields = ", ".join(f"{f['key']}@{f['version']}" for f in item["fields"])
        ups = ", ".join(d["feature"] for d in item["deps"]) or "-"
        table.add_row(item["key"], item["feature_version"], fields, ups)
    console().print(table)


@app.command()
def show(
    ctx: typer.Context,
    feature: Annotated[str, typer.Argument(help="Feature key, e.g. video/raw.")],
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show a feature: fields, versions, field-level dependencies, lineage and store presence."""
    cli = state(ctx)
    graph = cli.feature_graph()
    key = resolve_key(graph, feature)
    info = describe_feature(graph, key)
    info["stores"] = _presence(cli, key) if cli.config.stores else []
    if is_json(fmt):
        emit_json("show", {"feature": info})
        return
    _print_feature(info)


def resolve_key(graph: FeatureGraph, text: str) -> FeatureKey:
    """The key for ``text``, or an :class:`UnknownFeatureError` listing the known features."""
    key = coerce_feature_key(text)
    graph.spec(key)
    return key


def _presence(cli: Any, key: FeatureKey) -> list[dict[str, Any]]:
    """For each store of the chain: samples stored at the feature's current version."""
    rows = []
    with cli.store(read_only=True) as store:
        for member in store.fallback_chain():
            try:
                count = member.read_metadata(key, allow_fallback=False).select(pl.len()).collect().item()
            except FeatureNotFoundError:
                count = 0
            rows.append({"store": member.name, "samples": int(count)})
    return rows


def _print_feature(info: dict[str, Any]) -> None:
    out = console()
    out.print(f"[bold]{info['key']}[/bold]  version {info['feature_version']}")
    if info["description"]:
        out.print(info["description"], markup=False)
    out.print(f"id columns: {', '.join(info['id_columns'])}", markup=False)
    out.print(f"columns: {', '.join(info['columns']) or '-'}", markup=False)
    fields = Table("field", "code version", "version", "depends on", title="fields")
    for f in info["fields"]:
        fields.add_row(f["key"], f["code_version"], f["version"], ", ".join(f["parents"]) or "-")
    out.print(fields)
    if info["deps"]:
        deps = Table("upstream", "lineage", "optional", "columns", title="dependencies")
        for d in info["deps"]:
            cols = "all" if d["columns"] is None else ", ".join(d["columns"])
            deps.add_row(d["feature"], d["lineage"], "yes" if d["optional"] else "no", cols)
        out.print(deps)
    out.print(f"downstream: {', '.join(info['downstream']) or '-'}", markup=False)
    for s in info["stores"]:
        out.print(f"store {s['store']}: {s['samples']} samples at this version", markup=False)


@app.command()
def graph(
    ctx: typer.Context,
    feature: Annotated[str | None, typer.Argument(help="Only this feature and its neighbourhood.")] = None,
    fmt: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="Drawing format.", case_sensitive=False)
    ] = GraphFormat.TREE,
) -> None:
    """Draw the feature graph (or the part around one feature)."""
    g = state(ctx).feature_graph()
    center = resolve_key(g, feature) if feature else None
    keys = neighbourhood(g, center)
    if fmt == "json":
        emit_json("graph", describe_graph(g, center))
    elif fmt == "mermaid":
        typer.echo(graph_mermaid(g, keys))
    elif fmt == "dot":
        typer.echo(graph_dot(g, keys))
    else:
        console().print(_tree(g, keys))


def _tree(g: FeatureGraph, keys: list[FeatureKey]) -> Tree:
    """Roots at the top, each feature under the upstreams it depends on (repeated when shared)."""
    wanted = set(keys)
    root = Tree("features")

    def add(node: Tree, key: FeatureKey) -> None:
        fields = ", ".join(f"{f}@{v}" for f, v in g.field_versions(key).items())
        child = node.add(f"[bold]{key.to_string()}[/bold] {g.feature_version(key)}  ({fields})")
        for down in keys:
            if any(d.feature == key for d in g.spec(down).deps):
                add(child, down)

    for key in keys:
        if not any(d.feature in wanted for d in g.spec(key).deps):
            add(root, key)
    return root


@app.command()
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Words to look for (all must match).")],
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Search feature keys, descriptions, field and column names; best matches first."""
    g = state(ctx).feature_graph()
    hits = search_features(g, text)
    if is_json(fmt):
        items = [{"feature": h.key.to_string(), "score": h.score, "matches": list(h.matches)} for h in hits]
        emit_json("search", {"query": text, "results": items})
        return
    if not hits:
        console().print(f"No feature matches {text!r}.", markup=False)
        return
    table = Table("feature", "score", "matched", title=f"{len(hits)} result(s) for {text!r}")
    for h in hits:
        table.add_row(h.key.to_string(), str(h.score), escape("; ".join(h.matches)))
    console().print(table)

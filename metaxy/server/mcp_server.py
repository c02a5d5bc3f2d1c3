"""``metaxy mcp``: a Model Context Protocol server (the ``mcp`` package, stdio) with read-only tools.

The tools answer what the web API answers, through the same :class:`MetadataBrowser`: list and
search features, describe one, status, look up a sample, show the graph, list snapshots and diff
them. Every tool is annotated read-only; an error reaches the client as a tool error whose text
says what failed and how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from metaxy.exceptions import MetaxyError
from metaxy.server.browse import CURRENT, DEFAULT_PAGE_SIZE, MetadataBrowser
from metaxy.stores._drivers import import_driver

T = TypeVar("T")

INSTRUCTIONS = (
    "Read-only views of a metaxy project's feature metadata: features (versioned per field), their "
    "lineage graph, which samples are new/stale/orphaned in the store, snapshots of the graph, and "
    "where one sample stands in every feature. Feature keys look like 'video/raw'."
)


def build_mcp_server(browser: MetadataBrowser) -> Any:
    """An ``mcp.server.mcpserver.MCPServer`` whose tools read through ``browser``."""
    import_driver("mcp", "server", needed_by="metaxy mcp")
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    server = MCPServer("metaxy", instructions=INSTRUCTIONS)
    read_only = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

    def answer(call: Callable[[], T]) -> T:
        try:
            return call()
        except MetaxyError as exc:
            raise ToolError(f"{exc.message}\nHint: {exc.hint}" if exc.hint else exc.message) from exc

    @server.tool(annotations=read_only)
    def list_features(
        query: str | None = None, prefix: str | None = None, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> dict[str, Any]:
        """List the project's features (upstream first), or search them: every word of `query` must
        match a key, field, column or description. `prefix` keeps keys starting with it. Paged."""
        return answer(lambda: browser.features(query, prefix=prefix, limit=limit, offset=offset))

    @server.tool(annotations=read_only)
    def describe_feature(key: str) -> dict[str, Any]:
        """One feature: fields with versions and the upstream fields each depends on, dependencies both
        ways, declared and stored schema, stored counts and its status in the store."""
        return answer(lambda: browser.feature(key))

    @server.tool(annotations=read_only)
    def feature_status(features: list[str] | None = None) -> dict[str, Any]:
        """Per feature (default: all): samples stored, new, stale and orphaned, and a state
        (in-sync, empty, to-do, upstream-missing)."""
        return answer(lambda: browser.status(features))

    @server.tool(annotations=read_only)
    def lookup_sample(ids: dict[str, str]) -> dict[str, Any]:
        """Where one sample stands in every feature keyed by the given id columns, e.g.
        {"sample_uid": "42"}: stored or not; current, stale (which fields, and the upstream change that
        made them stale), new, failed (with the error), orphaned, upstream-missing or absent."""
        return answer(lambda: browser.lookup(ids))

    @server.tool(annotations=read_only)
    def show_graph(feature: str | None = None, format: Literal["json", "mermaid"] = "json") -> str:
        """The feature graph (or one feature's neighbourhood) as JSON nodes and edges, or Mermaid."""
        if format == "mermaid":
            return answer(browser.mermaid)
        return json.dumps(answer(lambda: browser.graph_data(feature)))

    @server.tool(annotations=read_only)
    def list_snapshots() -> dict[str, Any]:
        """The graph snapshots pushed to the store, oldest first, marking the one equal to the code."""
        return answer(browser.snapshots)

    @server.tool(annotations=read_only)
    def diff_snapshots(old: str | None = None, new: str = CURRENT) -> dict[str, Any]:
        """What changed between two graphs (snapshot ids, default the latest pushed, and 'current'
        for the code), and how many stored samples each change sends back to computation."""
        return answer(lambda: browser.diff(old, new))

    return server


def run_stdio(browser: MetadataBrowser) -> None:
    """Serve the tools on stdin/stdout until the client closes them."""
    build_mcp_server(browser).run("stdio")

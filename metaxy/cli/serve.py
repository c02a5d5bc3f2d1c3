"""``metaxy serve`` (read-only HTTP API and web page) and ``metaxy mcp`` (MCP server on stdio)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from metaxy.cli._app import app, state
from metaxy.server.browse import MetadataBrowser
from metaxy.stores.wrappers.auth import APIKeyBackend


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free port).", min=0, max=65535)] = 8765,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="METAXY_API_KEY", help="Require this key on every API call."),
    ] = None,
) -> None:
    """Serve a read-only JSON API and a web page over the store (features, graph, status, samples).

    With a ``[security]`` table in metaxy.toml, callers authenticate with their principal's API key and
    need the ``read`` permission; otherwise ``--api-key`` (if given) is the one key every call must send.
    """
    cli = state(ctx)
    graph = cli.feature_graph()
    security = cli.config.security
    backend = APIKeyBackend.from_config(security) if security is not None else None
    api_key = api_key or getattr(cli, "api_key", None)  # also the global --api-key, where there is one
    with cli.store(read_only=True, checked=False) as store:
        from metaxy.server.run import serve as run_server

        def announce(url: str) -> None:
            sys.stdout.write(f"metaxy serve: store {store.name} on {url} (API: {url}api/openapi.json)\n")
            sys.stdout.flush()

        run_server(
            MetadataBrowser(store, graph),
            host=host,
            port=port,
            api_key=None if backend is not None else api_key,
            auth_backend=backend,
            announce=announce,
        )


@app.command()
def mcp(ctx: typer.Context) -> None:
    """Run a Model Context Protocol server on stdio with read-only tools over the store."""
    cli = state(ctx)
    graph = cli.feature_graph()
    with cli.store(read_only=True, checked=False) as store:
        from metaxy.server.mcp_server import run_stdio

        run_stdio(MetadataBrowser(store, graph))

"""Read-only servers over a store: the HTTP API with its web page (``metaxy serve``) and the MCP server
(``metaxy mcp``), both answering through :class:`~metaxy.server.browse.MetadataBrowser`.

FastAPI, uvicorn and mcp are imported only by the modules that need them (``pip install 'metaxy[server]'``).
"""

from __future__ import annotations

from metaxy.server.browse import MetadataBrowser

__all__ = ["MetadataBrowser"]

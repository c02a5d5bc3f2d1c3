"""Serving the HTTP API with uvicorn on a socket bound before the server starts (so port 0 works)."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable

from metaxy.exceptions import ConfigError
from metaxy.server.browse import MetadataBrowser
from metaxy.stores._drivers import import_driver
from metaxy.stores.wrappers.auth import AuthBackend


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"metaxy serve cannot listen on {host}:{port}: {exc.strerror or exc}.",
            hint="Choose another --port (0 picks a free one) or --host.",
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    browser: MetadataBrowser,
    *,
    host: str,
    port: int,
    api_key: str | None,
    auth_backend: AuthBackend | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the API and page until interrupted; ``announce`` gets the URL once listening."""
    uvicorn = import_driver("uvicorn", "server", needed_by="metaxy serve")
    from metaxy.server.api import create_app  # fastapi, imported only when serving

    app = create_app(browser, api_key=api_key, auth_backend=auth_backend)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback(host) and api_key is None and auth_backend is None:
        sys.stderr.write(
            f"Warning: serving on {host} without an API key: anyone who reaches this machine can read the metadata.\n"
        )
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if announce is not None:
        announce(f"http://{shown}:{actual}/")
    server.run(sockets=[sock])

"""Commands about access control: ``metaxy auth new-key`` / ``hash-key``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from metaxy.cli._app import FormatOption, app, is_json
from metaxy.cli.output import OutputFormat, console, emit_json
from metaxy.stores.wrappers.auth import generate_api_key, hash_api_key

auth_app = typer.Typer(help="Create API keys and the hashes metaxy.toml stores.", no_args_is_help=True)
app.add_typer(auth_app, name="auth")


@auth_app.command("new-key")
def new_key(
    principal: Annotated[
        str, typer.Argument(help="The principal the key is for (a [security.principals] name).")
    ],
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Print a new random API key and the metaxy.toml line holding its hash (the key is shown once)."""
    key = generate_api_key()
    _show(principal, key, hash_api_key(key), fmt)


@auth_app.command("hash-key")
def hash_key(
    principal: Annotated[str, typer.Argument(help="The principal the key is for.")],
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Read an API key from standard input and print the metaxy.toml line holding its hash."""
    key = sys.stdin.readline().strip()
    if not key:
        raise typer.BadParameter(
            "no key on standard input (pipe it in: `echo $KEY | metaxy auth hash-key NAME`)"
        )
    _show(principal, None, hash_api_key(key), fmt)


def _show(principal: str, key: str | None, hashed: str, fmt: str) -> None:
    if is_json(fmt):
        emit_json("auth", {"principal": principal, "api_key": key, "api_key_hash": hashed})
        return
    out = console()
    if key is not None:
        out.print(
            f"API key for {principal} (store it now; metaxy keeps only its hash):\n{key}\n", markup=False
        )
    out.print(f"[security.principals.{principal}]\napi_key_hash = {hashed!r}", markup=False)

"""Terminal output: a rich console on stdout, JSON documents, and error lines on stderr."""

from __future__ import annotations

import json
import os
import sys
import traceback
from enum import StrEnum
from typing import Any

from rich.console import Console

from metaxy.exceptions import MetaxyError

#: the version of the JSON documents the commands print (bumped on incompatible changes)
JSON_SCHEMA_VERSION = 1
DEFAULT_WIDTH = 100


class OutputFormat(StrEnum):
    """How a read command prints its result."""

    TEXT = "text"
    JSON = "json"


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout/stderr (tests swap them), without colour when not a terminal."""
    width = int(os.environ.get("COLUMNS", DEFAULT_WIDTH))
    return Console(file=sys.stderr if stderr else sys.stdout, width=width, highlight=False, soft_wrap=False)


def emit_json(command: str, payload: dict[str, Any]) -> None:
    """Print one JSON document: ``{"command", "schema_version", ...payload}``, keys in a stable order."""
    document = {"command": command, "schema_version": JSON_SCHEMA_VERSION, **payload}
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def print_error(exc: BaseException, *, debug: bool) -> None:
    """One line saying what failed, then a ``Hint:`` line (a traceback only with ``--debug``)."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, MetaxyError):
        message, hint = exc.message, exc.hint
    else:
        message = f"Unexpected {type(exc).__name__}: {exc}"
        hint = "This is a bug in metaxy or a plugin; rerun with --debug for the traceback and report it."
    # plain writes, not rich: a long message must stay on one line for scripts that grep it
    sys.stderr.write(f"Error: {_one_line(message)}\n")
    if hint:
        sys.stderr.write(f"Hint: {_one_line(hint)}\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())

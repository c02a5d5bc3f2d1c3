"""Global options anywhere on the command line: ``metaxy status --store dev`` = ``metaxy --store dev status``.

Click reads a group's options only before its subcommand, so the arguments are reordered first:
``--config``, ``--store`` and ``--debug`` given after the command move in front of it, and a
``--format`` given before the command moves behind it (where the command's own option reads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: global options taking a value, and global flags
GLOBAL_VALUE_OPTIONS = frozenset({"--config", "--store", "--api-key"})
GLOBAL_FLAGS = frozenset({"--debug"})
FORMAT_OPTIONS = frozenset({"--format", "-f"})


def reorder_global_options(args: Sequence[str], root: Any) -> list[str]:
    """``args`` with global options before the command and a leading ``--format`` after it."""
    hoisted: list[str] = []
    kept: list[str] = []
    formats: list[str] = []
    command, command_at = root, -1
    tokens = list(args)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, has_value, _ = token.partition("=")
        width = 1 if has_value or not _takes_value(command, name) else 2
        chunk = tokens[i : i + width]
        i += width
        if token == "--":
            kept.extend(tokens[i - 1 :])
            break
        if command is not root and (name in GLOBAL_VALUE_OPTIONS or name in GLOBAL_FLAGS):
            hoisted.extend(chunk)
        elif command is root and name in FORMAT_OPTIONS:
            formats.extend(chunk)
        else:
            kept.extend(chunk)
            sub = _subcommand(command, token)
            if sub is not None:
                command, command_at = sub, len(kept) - 1
    if formats and command is not root and _takes_value(command, "--format"):
        kept[command_at + 1 : command_at + 1] = formats  # the command's own --format, if any, comes later
    else:
        hoisted.extend(formats)
    return hoisted + kept


def _takes_value(command: Any, name: str) -> bool:
    if not name.startswith("-"):
        return False
    if name in GLOBAL_VALUE_OPTIONS:
        return True
    for param in command.params:  # click (as vendored by typer) options
        if param.param_type_name == "option" and name in (*param.opts, *param.secondary_opts):
            return not param.is_flag and not param.count
    return False


def _subcommand(command: Any, token: str) -> Any:
    commands = getattr(command, "commands", None)  # only groups have subcommands
    if token.startswith("-") or not isinstance(commands, dict):
        return None
    return commands.get(token)

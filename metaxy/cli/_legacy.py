"""Metaxy 0.1.x command and option names, each refused with the one to use instead (docs/migrating.md)."""

from __future__ import annotations

from collections.abc import Sequence

from metaxy.exceptions import LegacyAPIError

#: 0.1.x command (as typed) -> what to run here
COMMANDS: dict[tuple[str, ...], str] = {
    ("describe",): "metaxy show FEATURE",
    ("graph-diff",): "metaxy diff",
    ("list", "features"): "metaxy list",
    ("list", "stores"): "metaxy stores",
    ("metadata", "status"): "metaxy status",
    ("metadata", "rebase"): "metaxy migrate FEATURE",
    ("config",): "metaxy stores (configured stores); the settings are in metaxy.toml",
    ("lock",): "nothing: there are no lock files, every feature is defined in the project",
    ("shell",): "python, then `import metaxy as mx` and `mx.init()`",
}
#: 0.1.x global options -> what to pass here
OPTIONS: dict[str, str] = {
    "--config-file": "--config PATH (or METAXY_CONFIG)",
    "--project": "nothing: one project per config file",
    "--all-projects": "nothing: one project per config file",
    "--sync": "nothing: there are no external features",
    "--locked": "nothing: there are no lock files",
}
VALUE_OPTIONS = frozenset({"--config", "--store", "--format", "-f"})


def check_legacy_names(args: Sequence[str]) -> None:
    """Raise :class:`LegacyAPIError` naming the replacement when ``args`` use a 0.1.x name."""
    positional: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg.split("=", 1)[0] in OPTIONS:
            _refuse(f"The option {arg.split('=', 1)[0]}", OPTIONS[arg.split("=", 1)[0]])
        elif arg.startswith("-"):
            skip = arg in VALUE_OPTIONS
        else:
            positional.append(arg)
    for length in (2, 1):
        if tuple(positional[:length]) in COMMANDS:
            _refuse(f"`metaxy {' '.join(positional[:length])}`", COMMANDS[tuple(positional[:length])])


def _refuse(what: str, replacement: str) -> None:
    raise LegacyAPIError(
        f"{what} is a Metaxy 0.1.x command-line name.", hint=f"Use {replacement} (metaxy --help lists all)."
    )

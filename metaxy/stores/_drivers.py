"""Import optional drivers on first use, with an error that says which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from metaxy.exceptions import MissingDependencyError


def import_driver(module: str, extra: str, needed_by: str = "This store") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install 'metaxy[extra]'``.

    ``needed_by`` names what needs the package in the message (a store, by default).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{needed_by} needs the Python package {module.split('.')[0]!r}, which is not installed.",
            hint=f"pip install 'metaxy[{extra}]'",
        ) from exc


def installed(module: str) -> bool:
    """Whether the optional ``module`` imports (a faster path that needs it is then taken)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True

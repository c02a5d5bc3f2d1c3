"""Relative store and catalog locations resolve against the project directory, not the working directory.

A store class lists its location options in ``path_options`` (``db_path``, ``table_uri``,
``connection_url``, ...); each value is a plain path, ``file://`` path, or a ``sqlite:///`` /
``chdb://`` URL. Remote URLs (``s3://``, ``postgresql://``, ...) and in-memory locations are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: values that name no place on disk
_IN_MEMORY = frozenset({"", ":memory:"})
#: URL prefixes followed by a file path (``sqlite:///rel.db`` is relative, ``sqlite:////abs.db`` is not)
_FILE_URL_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///", "sqlite+aiosqlite:///", "chdb://", "file://")


def resolve_location(value: Any, root: Path) -> Any:
    """``value`` with a relative file path made absolute under ``root``; anything else unchanged.

    Example:
        >>> from pathlib import Path
        >>> resolve_location("dev.duckdb", Path("/project"))
        '/project/dev.duckdb'
        >>> resolve_location("sqlite:///meta.db", Path("/project"))
        'sqlite:////project/meta.db'
        >>> resolve_location("s3://bucket/metaxy", Path("/project"))
        's3://bucket/metaxy'
    """
    if not isinstance(value, str | Path):
        return value
    text = str(value)
    for prefix in _FILE_URL_PREFIXES:
        if text.startswith(prefix):
            path, sep, query = text.removeprefix(prefix).partition("?")
            return prefix + _absolute(path, root) + sep + query
    if "://" in text or text in _IN_MEMORY:
        return value
    return _absolute(text, root)


def resolve_locations(options: Mapping[str, Any], names: Iterable[str], root: Path) -> dict[str, Any]:
    """``options`` with every option in ``names`` passed through :func:`resolve_location`."""
    wanted = set(names)
    return {k: resolve_location(v, root) if k in wanted else v for k, v in options.items()}


def _absolute(path: str, root: Path) -> str:
    if path in _IN_MEMORY or path.startswith("/"):
        return path
    expanded = Path(path).expanduser()
    return str(expanded if expanded.is_absolute() else root / expanded)

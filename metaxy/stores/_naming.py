"""Table names for SQL stores (docs/concepts.md, storage layout): key parts joined with ``__``, ``-`` becomes ``_``, optional prefix."""

from __future__ import annotations

import re

from metaxy.exceptions import InvalidKeyError, SchemaError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey

_SAFE = re.compile(r"^[A-Za-z0-9_]+$")


def table_name(key: FeatureKey, prefix: str = "") -> str:
    """The table holding ``key``; identifiers are still quoted by every store when used in SQL."""
    return prefix + key.to_table_name()


def key_from_table(name: str, prefix: str = "") -> FeatureKey | None:
    """Invert :func:`table_name` (``-`` cannot be recovered and reads back as ``_``)."""
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    parts = rest.split("__")
    if not rest or any(not part for part in parts):
        return None
    try:
        return FeatureKey(parts)
    except InvalidKeyError:  # not a feature table (e.g. a name no feature key can produce)
        return None


def keys_from_tables(names: list[str], prefix: str = "") -> list[FeatureKey]:
    """Feature keys of stored tables: exact keys of the active graph first, else the inverted name."""
    known = {table_name(k, prefix): k for k in FeatureGraph.get_active().keys}
    keys = [known.get(name) or key_from_table(name, prefix) for name in names]
    return [k for k in keys if k is not None]


def check_column_names(names: list[str], *, where: str) -> None:
    """Reject column names that no SQL store can hold reliably (quotes, control characters, empty)."""
    for name in names:
        if not name or any(ch in name for ch in "\"'`\\\x00\n\r") or name != name.strip():
            raise SchemaError(
                f"{where}: column name {name!r} cannot be stored in a SQL table.",
                hint="Rename the column to letters, digits, '_' or spaces (no quotes, backslashes or control characters).",
            )


def is_safe_identifier(name: str) -> bool:
    return bool(_SAFE.match(name))

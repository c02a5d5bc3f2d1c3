"""Table names for SQL stores (docs/concepts.md, storage layout): key parts joined with ``__``, ``-`` becomes ``_``, optional prefix.

That layout is Metaxy 0.1.11's and is kept so existing tables stay readable, but it is not injective
(``x/a-b`` and ``x/a_b`` both map to ``x__a_b``). So every SQL store records which feature key each of
its tables was first written for (:class:`TableClaims`, a small system table) and refuses to read,
write or delete a key whose table belongs to another one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from metaxy.constants import SYSTEM_NAMESPACE
from metaxy.exceptions import InvalidKeyError, TableNameCollisionError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.stores.schema_rule import TIMESTAMP

if TYPE_CHECKING:
    from metaxy.stores._sql import SQLMetadataStore

#: the system table recording, per table name, the feature key it was first written for
CLAIMS_KEY = FeatureKey([SYSTEM_NAMESPACE, "feature_tables"])
_CLAIMS_SCHEMA: dict[str, pl.DataType] = {
    "table_name": pl.String(),
    "feature_key": pl.String(),
    "claimed_at": TIMESTAMP,
}

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


def keys_from_tables(
    names: list[str], prefix: str = "", owners: dict[str, FeatureKey] | None = None
) -> list[FeatureKey]:
    """Feature keys of stored tables: the recorded owner first, then a key of the active graph, else
    the inverted name."""
    known = {table_name(k, prefix): k for k in FeatureGraph.get_active().keys}
    known.update(owners or {})
    keys = [known.get(name) or key_from_table(name, prefix) for name in names]
    return [k for k in keys if k is not None]


class TableClaims:
    """Which feature key each table of one SQL store belongs to, read from and written to the store.

    A table belongs to the first key that wrote it (the earliest claim; a tie goes to the smaller key,
    so concurrent claimants agree). A table written before claims existed (e.g. by Metaxy 0.1.11)
    belongs to the first key that writes it again; until then it is readable under any key mapping
    to it. Claims are cached for the life of the store object; a hard delete of every row of a key
    drops its claim.

    A first write commits its claim before its rows, in a transaction of its own, on every backend:
    two colliding keys racing on a new table then both see both claims before either writes a row,
    and the later one refuses (inside the write's transaction, an uncommitted claim would be invisible
    to the other writer). A write that fails or is killed after claiming leaves a claim without rows:
    it lists no feature (listing needs a table holding a row) and ``has_feature`` denies it; the same
    key writes again normally; a colliding key is refused with an error saying the table holds none of
    the owner's rows and how to free it (a claim without rows cannot be told from a first write still
    running, so it is never taken over silently).
    """

    def __init__(self, store: SQLMetadataStore) -> None:
        self.store = store
        self._owners: dict[str, FeatureKey] = {}
        self._loaded = False

    def owners(self) -> dict[str, FeatureKey]:
        """Every recorded claim: table name -> owning key."""
        self._refresh()
        return dict(self._owners)

    def check(self, key: FeatureKey, *, claim: bool = False) -> None:
        """Refuse ``key`` if its table belongs to another key; with ``claim``, record it as the owner.

        Reads use the claims loaded at first use; a claiming write looks again before it claims.

        Raises:
            TableNameCollisionError: naming both keys and the table.
        """
        if key.parts[0] == SYSTEM_NAMESPACE:
            return
        name = self.store.table_name(key)
        if not self._loaded or (claim and self._owners.get(name) != key):
            self._refresh()
        owner = self._owners.get(name)
        if owner is None and claim:
            self.store._append(CLAIMS_KEY, _claim_row(name, key))
            self._refresh()
            owner = self._owners.get(name)
        if owner is not None and owner != key:
            self._refuse(key, owner, name)

    def release(self, key: FeatureKey) -> None:
        """Drop ``key``'s claims (every row of it was hard-deleted): its table is free for any key."""
        if key.parts[0] == SYSTEM_NAMESPACE or self.store._scan(CLAIMS_KEY) is None:
            return
        name = self.store.table_name(key)
        mine = (pl.col("table_name") == name) & (pl.col("feature_key") == key.to_string())
        self.store._delete_rows(CLAIMS_KEY, mine)
        self._refresh()

    def _refuse(self, key: FeatureKey, owner: FeatureKey, name: str) -> None:
        if self.store._has_rows(owner):
            holds = f"which already holds feature {owner.to_string()!r}"
            free = ""
        else:  # a first write of the owner died after claiming the table (or is still running)
            holds = (
                f"which is claimed by feature {owner.to_string()!r} although it holds none of its rows "
                "(its first write failed or was killed after claiming the table, or is still running)"
            )
            free = (
                f" If no write of {owner.to_string()!r} is running, free the table with "
                f"delete_metadata({owner.to_string()!r}, soft=False) from its project."
            )
        raise TableNameCollisionError(
            f"{self.store.name}: feature {key.to_string()!r} maps to table {name!r}, {holds} "
            "(table names join key parts with '__' and turn '-' into '_').",
            hint=f"Rename one of the two features so their table names differ, or keep "
            f"{key.to_string()!r} in another store (or under another table_prefix).{free}",
        )

    def _refresh(self) -> None:
        self._loaded = True
        stored = self.store._rows_now(CLAIMS_KEY)  # read on every first use: at once, not lazily
        owners: dict[str, FeatureKey] = {}
        if stored is not None:
            rows = stored.select(list(_CLAIMS_SCHEMA)).sort("claimed_at", "feature_key")
            for name, feature_key in zip(rows["table_name"], rows["feature_key"], strict=True):
                owners.setdefault(name, FeatureKey(feature_key))
        self._owners = owners


def _claim_row(name: str, key: FeatureKey) -> pl.DataFrame:
    row = {"table_name": [name], "feature_key": [key.to_string()], "claimed_at": [datetime.now(UTC)]}
    return pl.DataFrame(row, schema=_CLAIMS_SCHEMA)


def is_safe_identifier(name: str) -> bool:
    return bool(_SAFE.match(name))

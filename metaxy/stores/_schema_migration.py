"""Schema evolution of a feature's user columns (``store.migrate_schema``): add, rename, cast, drop.

Every stored row (history and tombstones included) is rewritten with its system columns untouched,
so versions, provenance and timestamps stay as they were. Each applied migration appends one entry
(when, what, by whom) to the store's ``metaxy_system/schema_migrations`` table.
"""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from metaxy.constants import PREFIX, SYSTEM_COLUMNS, SYSTEM_NAMESPACE
from metaxy.exceptions import FeatureNotFoundError, SchemaMigrationError
from metaxy.models.keys import FeatureKey
from metaxy.stores.schema_rule import TIMESTAMP, DType, as_instance, check_column_names, to_storage

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

#: the system table holding one row per applied schema migration
MIGRATIONS_KEY = FeatureKey([SYSTEM_NAMESPACE, "schema_migrations"])
_LOG_SCHEMA = {
    "migration_id": pl.String(),
    "feature": pl.String(),
    "operations": pl.String(),  # JSON: SchemaMigration.to_dict()
    "rows": pl.Int64(),
    "applied_by": pl.String(),
    "applied_at": TIMESTAMP,
}


@dataclass(frozen=True)
class SchemaMigration:
    """Changes to a feature's user columns, applied together by ``store.migrate_schema``.

    Columns are named as stored *before* the migration: ``rename``, ``cast`` and ``drop`` name existing
    columns, ``add`` names new ones. Casts run first, then renames, adds and drops.

    Attributes:
        add: new column -> dtype; existing rows get ``defaults[column]`` (null when not given).
        defaults: values of added columns in the rows already stored.
        rename: old name -> new name.
        cast: column -> dtype; refused when a stored value would change.
        drop: columns to remove.

    Example:
        >>> import polars as pl
        >>> import metaxy as mx
        >>> m = mx.SchemaMigration(add={"lang": pl.String}, defaults={"lang": "en"}, drop=["tmp"])
        >>> m.describe()
        ["add lang String = 'en'", 'drop tmp']
    """

    add: Mapping[str, DType] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    rename: Mapping[str, str] = field(default_factory=dict)
    cast: Mapping[str, DType] = field(default_factory=dict)
    drop: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "add", {n: as_instance(t) for n, t in dict(self.add).items()})
        object.__setattr__(self, "defaults", dict(self.defaults))
        object.__setattr__(self, "rename", dict(self.rename))
        object.__setattr__(self, "cast", {n: as_instance(t) for n, t in dict(self.cast).items()})
        drop = [self.drop] if isinstance(self.drop, str) else list(self.drop)
        object.__setattr__(self, "drop", tuple(drop))

    def describe(self) -> list[str]:
        """One line per operation, in the order they apply."""
        lines = [f"cast {name} -> {dtype}" for name, dtype in self.cast.items()]
        lines += [f"rename {old} -> {new}" for old, new in self.rename.items()]
        for name, dtype in self.add.items():
            default = f" = {self.defaults[name]!r}" if self.defaults.get(name) is not None else ""
            lines.append(f"add {name} {dtype}{default}")
        lines += [f"drop {name}" for name in self.drop]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "cast": {n: str(t) for n, t in self.cast.items()},
            "rename": dict(self.rename),
            "add": {n: str(t) for n, t in self.add.items()},
            "defaults": {n: _jsonable(v) for n, v in self.defaults.items()},
            "drop": list(self.drop),
        }


@dataclass(frozen=True)
class SchemaMigrationReport:
    """What ``migrate_schema`` changed (or, with ``dry_run``, would change) in one feature's table.

    Attributes:
        feature: the migrated feature.
        dry_run: nothing was written.
        rows: stored rows rewritten (history and tombstones included).
        operations: the migration, one line per operation.
        before: column -> dtype (as text) before the migration.
        after: column -> dtype (as text) after it, as the store holds the types.
        migration_id: the entry appended to the migration log (``None`` for a dry run).
    """

    feature: FeatureKey
    dry_run: bool
    rows: int
    operations: tuple[str, ...]
    before: dict[str, str]
    after: dict[str, str]
    migration_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature.to_string(),
            "dry_run": self.dry_run,
            "rows": self.rows,
            "operations": list(self.operations),
            "before": dict(self.before),
            "after": dict(self.after),
            "migration_id": self.migration_id,
        }


def migrate_rows(
    store: MetadataStore,
    key: FeatureKey,
    ids: Sequence[str],
    migration: SchemaMigration,
    *,
    dry_run: bool,
    applied_by: str | None,
) -> SchemaMigrationReport:
    """Apply ``migration`` to every stored row of ``key`` in ``store`` (never its fallbacks)."""
    where = store._where(key)
    history = store._scan(key)
    if history is None:
        raise FeatureNotFoundError(
            f"{where}: nothing is stored, so there is no schema to migrate.",
            hint="Migrate the store that holds the feature's rows (fallback stores are never migrated).",
        )
    stored = history.collect_schema()
    check_migration(migration, stored, ids, where=where)
    rows = history.collect()
    migrated = apply_migration(rows, migration, ids, where=where)
    check_column_names(
        migrated.columns,
        max_bytes=store.max_column_name_bytes,
        plain=store.requires_plain_column_names,
        where=where,
    )
    migrated = to_storage(migrated, store._storage_type, where=where)
    report = SchemaMigrationReport(
        key,
        dry_run,
        rows.height,
        tuple(migration.describe()),
        {n: str(t) for n, t in stored.items()},
        {n: str(t) for n, t in migrated.schema.items()},
    )
    if dry_run:
        return report
    store._replace_rows(key, migrated)
    migration_id = uuid.uuid4().hex
    store._append(MIGRATIONS_KEY, _log_entry(store, key, migration, rows.height, migration_id, applied_by))
    return SchemaMigrationReport(**{**report.__dict__, "migration_id": migration_id})


def check_migration(migration: SchemaMigration, stored: pl.Schema, ids: Sequence[str], *, where: str) -> None:
    """Refuse, before anything is read or written, a migration that cannot apply to ``stored``.

    Raises:
        SchemaMigrationError: naming the column and what is wrong with the operation.
    """
    if not (migration.add or migration.defaults or migration.rename or migration.cast or migration.drop):
        raise SchemaMigrationError(
            f"{where}: the schema migration has no operation.",
            hint="Give add=, rename=, cast= or drop= (see docs/migrations.md, 'Schema evolution').",
        )
    existing = ", ".join(n for n in stored.names() if not _is_protected(n, ids))
    changed = [("rename", n) for n in migration.rename]
    changed += [("cast", n) for n in migration.cast] + [("drop", n) for n in migration.drop]
    for operation, name in changed:
        if name not in stored:
            raise SchemaMigrationError(
                f"{where}: cannot {operation} column {name!r}: it is not stored.",
                hint=f"Stored user columns: {existing or '(none)'}.",
            )
        if _is_protected(name, ids):
            kind = "an id column" if name in ids else "a system column"
            raise SchemaMigrationError(
                f"{where}: cannot {operation} {name!r}: it is {kind}.",
                hint="Schema migrations change user columns only; ids and system columns keep versions "
                "and increments working. Write the feature under a new key to change its ids.",
            )
    _check_overlaps(migration, where=where)
    _check_new_names(migration, stored, ids, where=where)


def _check_overlaps(migration: SchemaMigration, *, where: str) -> None:
    for name in migration.drop:
        if name in migration.rename or name in migration.cast:
            raise SchemaMigrationError(
                f"{where}: column {name!r} is dropped and also renamed or cast.",
                hint="Drop it, or keep it: not both in one migration.",
            )
    for name in migration.defaults:
        if name not in migration.add:
            raise SchemaMigrationError(
                f"{where}: defaults= names {name!r}, which add= does not add.",
                hint="Give a default only for a column in add=.",
            )


def _check_new_names(
    migration: SchemaMigration, stored: pl.Schema, ids: Sequence[str], *, where: str
) -> None:
    targets = list(migration.rename.values())
    new_names = [*targets, *migration.add]
    for name in new_names:
        if name in stored or new_names.count(name) > 1:
            raise SchemaMigrationError(
                f"{where}: column {name!r} already exists (or is named twice by the migration).",
                hint="Rename or add onto a name no column has; drop the existing column first in "
                "a migration of its own if you mean to replace it.",
            )
        if _is_protected(name, ids):
            raise SchemaMigrationError(
                f"{where}: {name!r} is reserved for metaxy's system columns.",
                hint=f"Choose a name that does not start with {PREFIX!r}.",
            )


def apply_migration(
    rows: pl.DataFrame, migration: SchemaMigration, ids: Sequence[str], *, where: str
) -> pl.DataFrame:
    """``rows`` with the migration applied: checked casts, renames, added columns, drops."""
    for name, dtype in migration.cast.items():
        rows = rows.with_columns(checked_cast(rows, name, as_instance(dtype), ids, where=where))
    if migration.rename:
        rows = rows.rename(dict(migration.rename))
    added = [
        _added(name, as_instance(dtype), migration.defaults.get(name), where=where)
        for name, dtype in migration.add.items()
    ]
    if added:
        rows = rows.with_columns(added)
    return rows.drop(list(migration.drop)) if migration.drop else rows


def checked_cast(
    rows: pl.DataFrame, name: str, dtype: pl.DataType, ids: Sequence[str], *, where: str
) -> pl.Series:
    """Column ``name`` of ``rows`` as ``dtype``, refused when any value would change.

    A value changes when the cast fails (null, overflow, unparsable text) or when casting it back
    does not give the stored value (a dropped fraction, ``"007"`` read as 7).

    Raises:
        SchemaMigrationError: naming the first such value and its sample's ids.
    """
    original = rows.get_column(name)
    source = original.dtype
    try:
        cast = original.cast(dtype, strict=False)
        back = cast.cast(source, strict=False)
    except pl.exceptions.PolarsError as exc:
        raise SchemaMigrationError(
            f"{where}: column {name!r} cannot be cast from {source} to {dtype}: {str(exc).splitlines()[0]}",
            hint="Cast to a type Polars converts this column to (see the Polars cast documentation).",
        ) from exc
    changed = original.is_not_null() & (cast.is_null() | back.ne_missing(original))
    bad = changed.arg_true()
    if bad.len():
        # "first" in id order, so the message does not depend on the order a backend reads rows in
        by_ids = [i for i in ids if i in rows.columns]
        offending = rows.select(by_ids).with_columns(__row=pl.int_range(pl.len())).filter(changed)
        first = int(offending.sort(by_ids)["__row"][0]) if by_ids else int(bad[0])
        sample = ", ".join(f"{i}={rows.get_column(i)[first]!r}" for i in ids if i in rows.columns)
        raise SchemaMigrationError(
            f"{where}: casting column {name!r} from {source} to {dtype} would change {bad.len()} stored "
            f"value(s); the first is {original[first]!r} (row of {sample or 'an unknown sample'}), "
            f"which would become {cast[first]!r}.",
            hint=f"Fix or delete those rows first, or cast {name!r} to a type that holds every value.",
        )
    return cast


def _added(name: str, dtype: pl.DataType, default: Any, *, where: str) -> pl.Expr:
    if default is None:
        return pl.lit(None, dtype).alias(name)
    try:
        value = pl.Series([default]).cast(dtype, strict=True)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise SchemaMigrationError(
            f"{where}: the default {default!r} of added column {name!r} is not a {dtype}: "
            f"{str(exc).splitlines()[0]}",
            hint=f"Give a default of type {dtype}, or none (older rows read null).",
        ) from exc
    return pl.lit(value[0], dtype).alias(name)


def _is_protected(name: str, ids: Sequence[str]) -> bool:
    return name in ids or name in SYSTEM_COLUMNS or name.startswith(PREFIX)


def _log_entry(
    store: MetadataStore,
    key: FeatureKey,
    migration: SchemaMigration,
    rows: int,
    migration_id: str,
    applied_by: str | None,
) -> pl.DataFrame:
    entry = {
        "migration_id": migration_id,
        "feature": key.to_string(),
        "operations": json.dumps(migration.to_dict(), sort_keys=True),
        "rows": rows,
        "applied_by": applied_by or current_user(),
        "applied_at": store._now(),
    }
    return pl.DataFrame([entry], schema=_LOG_SCHEMA)


def current_user() -> str:
    """The operating-system user running this process (``"unknown"`` when it cannot be told)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def read_migration_log(store: MetadataStore, feature: FeatureKey | None = None) -> pl.DataFrame:
    """The schema migrations applied to ``store`` (oldest first), optionally of one feature."""
    store.require_open()
    rows = store._scan(MIGRATIONS_KEY)
    if rows is None:
        return pl.DataFrame(schema=_LOG_SCHEMA)
    if feature is not None:
        rows = rows.filter(pl.col("feature") == feature.to_string())
    return rows.select(list(_LOG_SCHEMA)).sort("applied_at").collect()


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)

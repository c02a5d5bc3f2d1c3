"""Shared SQL for catalogs on DB-API databases; subclasses supply the connection and dialect bits."""

from __future__ import annotations

import re
import threading
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from metaxy.catalog.base import MaterializationCatalog, RecordFilter
from metaxy.catalog.records import MaterializationRecord
from metaxy.exceptions import CatalogError

COLUMNS = (
    "store",
    "feature_key",
    "feature_version",
    "field_key",
    "data_version",
    "sample_count",
    "materialized_at",
    "materialization_id",
)
_FILTER_COLUMNS = ("feature_key", "store", "field_key", "data_version", "feature_version")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SQLCatalog(MaterializationCatalog):
    """A catalog in one SQL table ``table`` (created on first use), one row per record."""

    #: DB-API parameter marker of the driver
    placeholder = "?"
    #: column type of ``materialized_at``
    timestamp_type = "TEXT"

    def __init__(self, *, table: str = "metaxy_materializations") -> None:
        if not _IDENT.match(table):
            raise CatalogError(
                f"Invalid catalog table name {table!r}.",
                hint="Use letters, digits and '_' only, starting with a letter or '_'.",
            )
        self.table = table
        self._conn: Any = None
        self._lock = threading.RLock()

    # -- dialect hooks --------------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """A new DB-API connection in autocommit mode."""

    @abstractmethod
    @contextmanager
    def _write_transaction(self, conn: Any) -> Iterator[Any]:
        """A cursor inside a transaction that serialises writers; commit on success."""

    def _to_db_time(self, value: datetime) -> Any:
        return value.isoformat()

    def _from_db_time(self, value: Any) -> datetime:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return parsed.astimezone(UTC)

    @abstractmethod
    def _translate(self, exc: Exception) -> CatalogError | None:
        """Our error for a driver error, or ``None`` when it is not a driver error."""

    # -- connection -----------------------------------------------------------------------------

    @contextmanager
    def _cursor(self, *, write: bool = False) -> Iterator[Any]:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                    self._create_table(self._conn)
                if write:
                    with self._write_transaction(self._conn) as cur:
                        yield cur
                else:
                    yield self._conn.cursor()
            except Exception as exc:
                translated = self._translate(exc)
                if translated is None:
                    raise
                raise translated from exc

    def _create_table(self, conn: Any) -> None:
        with self._write_transaction(conn) as cur:
            cur.execute(self._table_ddl())
            cur.execute(
                f'CREATE INDEX IF NOT EXISTS "{self.table}_lookup" '
                f'ON "{self.table}" (feature_key, feature_version, store)'
            )

    def _table_ddl(self, *, temporary: bool = False) -> str:
        return (
            f'CREATE {"TEMPORARY " if temporary else ""}TABLE IF NOT EXISTS "{self.table}" ('
            "store TEXT NOT NULL, feature_key TEXT NOT NULL, feature_version TEXT NOT NULL, "
            "field_key TEXT NOT NULL, data_version TEXT, sample_count BIGINT NOT NULL, "
            f"materialized_at {self.timestamp_type} NOT NULL, materialization_id TEXT NOT NULL)"
        )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __getstate__(self) -> dict[str, Any]:
        # connections do not cross process boundaries; the copy reconnects on first use
        state = self.__dict__.copy()
        state["_conn"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- primitives -----------------------------------------------------------------------------

    def _insert(self, records: list[MaterializationRecord]) -> None:
        marks = ", ".join([self.placeholder] * len(COLUMNS))
        rows = [(*r.as_row()[:6], self._to_db_time(r.materialized_at), r.materialization_id) for r in records]
        with self._cursor(write=True) as cur:
            cur.executemany(f'INSERT INTO "{self.table}" ({", ".join(COLUMNS)}) VALUES ({marks})', rows)

    def _where(self, where: RecordFilter, versions: list[str] | None = None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column in _FILTER_COLUMNS:
            value = getattr(where, column)
            if value is not None:
                clauses.append(f"{column} = {self.placeholder}")
                params.append(value)
        if versions is not None:
            clauses.append(f"feature_version IN ({', '.join([self.placeholder] * len(versions))})")
            params.extend(versions)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _select(self, where: RecordFilter, *, limit: int | None = None) -> list[MaterializationRecord]:
        sql, params = self._where(where)
        tail = f" LIMIT {int(limit)}" if limit is not None else " ORDER BY materialized_at"
        with self._cursor() as cur:
            cur.execute(f'SELECT {", ".join(COLUMNS)} FROM "{self.table}"{sql}{tail}', params)
            rows = cur.fetchall()
        return [
            MaterializationRecord(
                store=r[0],
                feature_key=r[1],
                feature_version=r[2],
                field_key=r[3],
                data_version=r[4],
                sample_count=int(r[5]),
                materialized_at=self._from_db_time(r[6]),
                materialization_id=r[7],
            )
            for r in rows
        ]

    def _delete(self, where: RecordFilter, feature_versions: list[str] | None) -> None:
        sql, params = self._where(where, feature_versions)
        with self._cursor(write=True) as cur:
            cur.execute(f'DELETE FROM "{self.table}"{sql}', params)

    def _keys(self, store: str | None) -> list[str]:
        sql, params = self._where(RecordFilter(store=store))
        with self._cursor() as cur:
            cur.execute(f'SELECT DISTINCT feature_key FROM "{self.table}"{sql}', params)
            return [row[0] for row in cur.fetchall()]

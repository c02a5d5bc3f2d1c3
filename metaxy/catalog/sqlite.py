"""``SQLiteCatalog``: a catalog in one SQLite file (stdlib ``sqlite3``), safe for several processes."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from metaxy.catalog.sql import SQLCatalog
from metaxy.exceptions import CatalogError, CatalogNotFoundError

#: how long a writer waits for another process's lock before failing (milliseconds)
BUSY_TIMEOUT_MS = 30_000


class SQLiteCatalog(SQLCatalog):
    """A persistent catalog in a SQLite file.

    The database runs in WAL mode (readers never block the writer) with a busy timeout, and every
    write takes the write lock up front (``BEGIN IMMEDIATE``), so concurrent writers from several
    processes queue instead of failing or losing records.

    Args:
        db_path: the SQLite file (created when missing) or ``":memory:"``.
        table: name of the catalog table.
        read_only: open the file read-only: nothing is ever created or written (a missing file raises
            :class:`~metaxy.exceptions.CatalogNotFoundError`; a file without the table reads as empty).

    Example:
        >>> import metaxy as mx
        >>> catalog = mx.SQLiteCatalog(":memory:")
        >>> catalog.has_feature("video/raw")
        False
    """

    #: configuration resolves a relative ``db_path`` against the project folder
    path_options = ("db_path",)

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        *,
        table: str = "metaxy_materializations",
        read_only: bool = False,
    ) -> None:
        super().__init__(table=table)
        self.db_path = str(db_path)
        self.read_only = read_only

    @property
    def location(self) -> str:
        """The catalog file."""
        return self.db_path

    def exists(self) -> bool:
        """Whether the catalog file exists (checked without creating it)."""
        return self.db_path == ":memory:" or os.path.isfile(self.db_path)

    def _connect(self) -> Any:
        if self.read_only and self.db_path != ":memory:":
            return self._connect_read_only()
        conn = sqlite3.connect(
            self.db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.db_path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        return conn

    def _connect_read_only(self) -> Any:
        if not self.exists():
            raise CatalogNotFoundError(
                f"Catalog {self.db_path} does not exist; it was opened read-only, so it was not created.",
                hint="Nothing was written through this catalog yet, or db_path is wrong: relative paths in "
                "the config resolve against the config file's folder.",
            )
        uri = f"file:{urllib.parse.quote(os.path.abspath(self.db_path))}?mode=ro"
        conn = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return conn

    def _create_table(self, conn: Any) -> None:
        if not self.read_only:
            super()._create_table(conn)
            return
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.table,)
        ).fetchone()
        if found is None:  # a file without the catalog table reads as empty: an in-memory stand-in
            conn.execute(self._table_ddl(temporary=True))

    @contextmanager
    def _write_transaction(self, conn: Any) -> Iterator[Any]:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def _translate(self, exc: Exception) -> CatalogError | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        return CatalogError(
            f"SQLite catalog {self.db_path!r} failed: {exc}",
            hint="Check that the file is writable and not held by a crashed process.",
        )

    def __repr__(self) -> str:
        return f"SQLiteCatalog({self.db_path!r}{', read_only=True' if self.read_only else ''})"

"""``PostgresCatalog``: a catalog table in PostgreSQL (psycopg 3), shared by many users and processes."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from metaxy.catalog.sql import SQLCatalog
from metaxy.exceptions import CatalogError
from metaxy.stores._drivers import import_driver


class PostgresCatalog(SQLCatalog):
    """A production catalog in PostgreSQL.

    Writers insert inside a transaction; table creation is serialised with an advisory lock, so
    several processes can start against an empty database at once.

    Args:
        url: a libpq connection string or ``postgresql://`` URL.
        table: name of the catalog table.
    """

    placeholder = "%s"
    timestamp_type = "TIMESTAMPTZ"

    def __init__(self, url: str, *, table: str = "metaxy_materializations") -> None:
        super().__init__(table=table)
        self.url = _libpq_url(url)

    def _connect(self) -> Any:
        psycopg = import_driver("psycopg", "postgres")
        return psycopg.connect(self.url, autocommit=True)

    @contextmanager
    def _write_transaction(self, conn: Any) -> Iterator[Any]:
        with conn.transaction(), conn.cursor() as cur:
            # one writer creates the table; others wait rather than race on the catalog's DDL
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(self.table.encode()),))
            yield cur

    def _to_db_time(self, value: Any) -> Any:
        return value

    def _translate(self, exc: Exception) -> CatalogError | None:
        psycopg = import_driver("psycopg", "postgres")
        if not isinstance(exc, psycopg.Error):
            return None
        return CatalogError(
            f"PostgreSQL catalog (table {self.table!r}) failed: {exc}",
            hint="Check the connection URL, that the server is up and the user may create tables.",
        )

    def __repr__(self) -> str:
        return f"PostgresCatalog(table={self.table!r})"


def _libpq_url(url: str) -> str:
    """Accept SQLAlchemy-style URLs too (``postgresql+psycopg://``): libpq knows no driver suffix."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.startswith(("postgresql+", "postgres+")):
        return f"postgresql://{rest}"
    return url

"""Running one statement on an ADBC connection, shared by the PostgreSQL and SQLite readers.

The driver manager's low-level API, not its DB-API module: that one imports ``pyarrow.dataset`` and
pandas (seconds on a loaded machine, on every process's first read). Parameters go in and results come
out as Arrow C streams read by Polars, so pyarrow is not imported at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import polars as pl


@contextmanager
def statement(conn: Any, sql: str, options: Mapping[str, str] | None = None) -> Iterator[Any]:
    """An ADBC statement of ``conn`` holding ``sql`` (with the driver's ``options``), closed afterwards."""
    from adbc_driver_manager import AdbcStatement

    handle = AdbcStatement(conn)
    try:
        handle.set_sql_query(sql)
        if options:
            handle.set_options(**options)
        yield handle
    finally:
        handle.close()


def query(
    conn: Any, sql: str, params: Mapping[str, Any] | None = None, options: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """The result of ``sql`` as Arrow columns in a Polars frame (no conversion of types); ``params``
    are bound in order, one value each; ``options`` are the driver's statement options."""
    with statement(conn, sql, options) as handle:
        if params:
            values = pl.DataFrame({name: [value] for name, value in params.items()})
            handle.bind_stream(values.__arrow_c_stream__())
        stream, _ = handle.execute_query()
        return pl.DataFrame(stream)

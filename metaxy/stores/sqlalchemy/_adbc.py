"""Running one statement on an ADBC connection, shared by the PostgreSQL and SQLite readers.

The driver manager's low-level API, not its DB-API module: that one imports ``pyarrow.dataset`` and
pandas (seconds on a loaded machine, on every process's first read).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


@contextmanager
def statement(conn: Any, sql: str) -> Iterator[Any]:
    """An ADBC statement of ``conn`` holding ``sql``, closed afterwards."""
    from adbc_driver_manager import AdbcStatement

    handle = AdbcStatement(conn)
    try:
        handle.set_sql_query(sql)
        yield handle
    finally:
        handle.close()


def query(conn: Any, sql: str, params: Mapping[str, Any] | None = None) -> Any:
    """The result of ``sql`` as an Arrow table; ``params`` are bound in order, one value each."""
    import pyarrow as pa

    with statement(conn, sql) as handle:
        if params:
            handle.bind(pa.record_batch({name: [value] for name, value in params.items()}))
        stream, _ = handle.execute_query()
        return pa.RecordBatchReader.from_stream(stream).read_all()

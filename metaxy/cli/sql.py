"""``metaxy sql``: one read-only SQL query over the store's metadata, printed as a table, CSV, JSON or Parquet."""

from __future__ import annotations

import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from metaxy.cli._app import app, state
from metaxy.cli.output import JSON_SCHEMA_VERSION, console
from metaxy.exceptions import MetaxyError


class SQLOutput(StrEnum):
    """How ``metaxy sql`` prints the rows."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


@app.command("sql")
def sql(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help="One SELECT; tables are feature table names, history.<table>.")
    ],
    output: Annotated[
        SQLOutput, typer.Option("--output", "-o", help="Output format.", case_sensitive=False)
    ] = SQLOutput.TABLE,
    file: Annotated[
        Path | None, typer.Option("--file", help="Write the result to this file (required for parquet).")
    ] = None,
) -> None:
    """Run one read-only SQL query (DuckDB) over the store's metadata: latest rows per feature table."""
    cli = state(ctx)
    graph = cli.feature_graph()
    if output == SQLOutput.PARQUET and file is None:
        raise MetaxyError(
            "--output parquet writes a binary file and needs --file.",
            hint='metaxy sql "SELECT ..." --output parquet --file result.parquet',
        )
    with cli.store(read_only=True) as store:
        rows = store.sql(query, graph=graph)
        name = store.name
    if output == SQLOutput.PARQUET:
        assert file is not None
        rows.write_parquet(file)
    elif output == SQLOutput.TABLE and file is None:
        _print_table(rows, name)
    else:
        _write(_render(rows, output, name, query), file)


def _render(rows: pl.DataFrame, output: SQLOutput, store: str, query: str) -> str:
    if output == SQLOutput.CSV:
        return _csv(rows)
    if output == SQLOutput.JSON:
        document = {
            "command": "sql",
            "schema_version": JSON_SCHEMA_VERSION,
            "store": store,
            "query": query,
            "columns": [{"name": n, "type": str(t)} for n, t in rows.schema.items()],
            "rows": rows.to_dicts(),
        }
        return json.dumps(document, indent=2, default=str) + "\n"
    buffer = io.StringIO()  # --output table --file: the plain text table
    console_file = console()
    console_file.file = buffer
    console_file.print(_table(rows, store))
    console_file.print(_summary(rows, store), markup=False)
    return buffer.getvalue()


def _csv(rows: pl.DataFrame) -> str:
    """CSV; nested columns (structs, lists) are written as JSON text, which CSV cannot hold otherwise."""
    nested = [n for n, t in rows.schema.items() if t.is_nested()]
    flat = rows.with_columns(pl.col(n).map_elements(_json, return_dtype=pl.String) for n in nested)
    return flat.write_csv()


def _json(value: object) -> str:
    return json.dumps(value, default=str)


def _table(rows: pl.DataFrame, store: str) -> Table:
    table = Table(*rows.columns)
    for row in rows.iter_rows():
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    return table


def _print_table(rows: pl.DataFrame, store: str) -> None:
    console().print(_table(rows, store))
    console().print(_summary(rows, store), markup=False)


def _summary(rows: pl.DataFrame, store: str) -> str:
    return f"{rows.height} row(s) from store {store}"


def _write(text: str, file: Path | None) -> None:
    if file is None:
        sys.stdout.write(text)
    else:
        file.write_text(text)

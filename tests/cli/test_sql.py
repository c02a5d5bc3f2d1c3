"""``metaxy sql``: one read-only query over the configured store, as a table, CSV, JSON or Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

pytestmark = pytest.mark.usefixtures("seeded")

QUERY = "SELECT video_id, text FROM video__transcript ORDER BY video_id"


def test_table_output_lists_the_rows(run) -> None:  # type: ignore[no-untyped-def]
    result = run("sql", QUERY)
    assert result.code == 0, result.err
    assert "3 row(s) from store dev" in result.out
    assert [line.split("│")[1].strip() for line in result.out.splitlines() if "│ v" in line] == [
        "v1",
        "v2",
        "v3",
    ]


def test_json_output_is_one_document_with_columns_and_rows(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "sql", "SELECT video_id, metaxy_provenance_by_field FROM video__raw ORDER BY 1", "-o", "json"
    )
    document = json.loads(result.out)
    assert document["command"] == "sql"
    assert document["store"] == "dev"
    assert document["columns"][0] == {"name": "video_id", "type": "String"}
    assert document["rows"][0] == {
        "video_id": "v1",
        "metaxy_provenance_by_field": {"audio": "a2", "frames": "f1"},
    }
    assert len(document["rows"]) == 4


def test_csv_output_writes_nested_columns_as_json(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "sql",
        "SELECT video_id, metaxy_provenance_by_field AS p FROM video__raw ORDER BY 1",
        "--output",
        "csv",
    )
    lines = result.out.splitlines()
    assert lines[0] == "video_id,p"
    assert lines[1] == 'v1,"{""audio"": ""a2"", ""frames"": ""f1""}"'


def test_parquet_output_needs_a_file_and_round_trips(run, project: Path) -> None:  # type: ignore[no-untyped-def]
    refused = run("sql", QUERY, "-o", "parquet")
    assert refused.code == 1
    assert "needs --file" in refused.err
    result = run(
        "sql",
        "SELECT video_id, count(*) AS n FROM history.video__raw GROUP BY 1 ORDER BY 1",
        "-o",
        "parquet",
        "--file",
        "out.parquet",
    )
    assert result.code == 0, result.err
    assert pl.read_parquet(project / "out.parquet").rows() == [("v1", 2), ("v2", 1), ("v3", 1), ("v4", 1)]


def test_a_write_statement_exits_1_with_a_hint(run) -> None:  # type: ignore[no-untyped-def]
    result = run("sql", "DELETE FROM video__raw")
    assert result.code == 1
    assert result.err.splitlines()[0] == "Error: store.sql() is read-only and refuses a DELETE statement."
    assert result.err.splitlines()[1].startswith("Hint: Send a SELECT")
    assert run("sql", "SELECT count(*) AS n FROM video__raw", "-o", "json").out.count('"n": 4') == 1

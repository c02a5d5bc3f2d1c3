"""Hash dialects: the SQL text per dialect (tables), and golden runs of that SQL against ``hash_text``."""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow as pa
import pytest
import sqlglot.expressions as exp

from metaxy.exceptions import VersioningError
from metaxy.stores.backends import sql_dialect
from metaxy.versioning.hashing import HashAlgorithm, HashSettings, hash_text
from metaxy.versioning.sql.engine import col

TEXT = exp.Literal.string("x")
MD5 = HashSettings("md5", 8)

HASH_SQL = {
    ("duckdb", "md5"): "SELECT SUBSTRING(MD5('x'), 1, 8)",
    ("duckdb", "sha256"): "SELECT SUBSTRING(SHA256('x'), 1, 8)",
    ("clickhouse", "xxhash32"): "SELECT SUBSTRING(toString(xxHash32('x')), 1, 8)",
    ("clickhouse", "xxhash64"): "SELECT SUBSTRING(toString(xxHash64('x')), 1, 8)",
    ("clickhouse", "md5"): "SELECT SUBSTRING(lower(hex(MD5('x'))), 1, 8)",
    ("clickhouse", "sha256"): "SELECT SUBSTRING(lower(hex(SHA256('x'))), 1, 8)",
    ("postgres", "md5"): "SELECT SUBSTRING(MD5('x') FROM 1 FOR 8)",
    ("postgres", "sha256"): "SELECT SUBSTRING(ENCODE(SHA256(CONVERT_TO('x', 'UTF8')), 'hex') FROM 1 FOR 8)",
}

STRUCT_FIELD_SQL = {
    "duckdb": """SELECT STRUCT_EXTRACT("metaxy_data_version_by_field", 'a_b')""",
    "clickhouse": """SELECT tupleElement("metaxy_data_version_by_field", 'a_b')""",
    "postgres": """SELECT "metaxy_data_version_by_field" ->> 'a_b'""",
    "sqlite": """SELECT JSON_EXTRACT(`metaxy_data_version_by_field`, '$."a_b"')""",
}

ORDERED_JOIN_SQL = {
    "duckdb": """SELECT ARRAY_TO_STRING(LIST(COALESCE("v", '') ORDER BY "id" ASC), '|')""",
    "clickhouse": """SELECT arrayStringConcat(arraySort(("__mx_v", "__mx_k") -> "__mx_k", """
    """groupArray(COALESCE("v", '')), groupArray("id")), '|')""",
    "postgres": """SELECT ARRAY_TO_STRING(ARRAY_AGG(COALESCE("v", '') ORDER BY "id" ASC), '|')""",
    "sqlite": """SELECT GROUP_CONCAT(COALESCE(`v`, ''), '|' ORDER BY `id` ASC NULLS LAST)""",
}

NATIVE = {
    "duckdb": {"md5", "sha256"},
    "clickhouse": {"xxhash32", "xxhash64", "md5", "sha256"},
    "postgres": {"md5", "sha256"},
    "sqlite": set(),
}

# separators, quotes, backslashes, non-ASCII and an empty string: what SQL escaping could get wrong
TRICKY = ["", "a|b", "it's", 'say "hi"', "back\\slash", "naïve ☃ 日本", "tab\tnew\nline", "%_like"]


@pytest.mark.parametrize(("dialect", "algorithm"), sorted(HASH_SQL))
def test_hash_sql_text(dialect: str, algorithm: str) -> None:
    d = sql_dialect(dialect)
    assert d.render(exp.select(d.hash(TEXT, HashSettings(algorithm, 8)))) == HASH_SQL[(dialect, algorithm)]


@pytest.mark.parametrize("dialect", sorted(STRUCT_FIELD_SQL))
def test_struct_field_and_ordered_join_sql_text(dialect: str) -> None:
    d = sql_dialect(dialect)
    assert (
        d.render(exp.select(d.struct_field(col("metaxy_data_version_by_field"), "a_b")))
        == STRUCT_FIELD_SQL[dialect]
    )
    assert d.render(exp.select(d.ordered_join(col("v"), [col("id")]))) == ORDERED_JOIN_SQL[dialect]


@pytest.mark.parametrize("dialect", sorted(NATIVE))
def test_native_algorithms_per_dialect(dialect: str) -> None:
    d = sql_dialect(dialect)
    assert {a.value for a in HashAlgorithm if d.supports(a)} == NATIVE[dialect]
    for algorithm in set(HashAlgorithm) - {HashAlgorithm(a) for a in NATIVE[dialect]}:
        with pytest.raises(VersioningError, match="cannot compute"):
            d.hash(TEXT, HashSettings(algorithm))


def test_concat_is_null_safe_and_unknown_dialect_is_refused() -> None:
    d = sql_dialect("duckdb")
    sql = d.render(exp.select(d.concat([exp.Literal.string("a"), exp.Null(), col("c")])))
    assert sql == """SELECT 'a' || '|' || COALESCE(NULL, '') || '|' || COALESCE("c", '')"""
    with pytest.raises(VersioningError, match="oracle"):
        sql_dialect("oracle")


def _golden_queries(dialect: str, algorithm: str, truncation: int | None) -> tuple[str, list[str]]:
    d = sql_dialect(dialect)
    settings = HashSettings(algorithm, truncation)
    parts = [d.hash(d.concat([exp.Literal.string(t), exp.Literal.string(t)]), settings) for t in TRICKY]
    query = exp.select(*[exp.alias_(p, f"h{i}") for i, p in enumerate(parts)])
    return d.render(query), [hash_text(f"{t}|{t}", settings) for t in TRICKY]


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
@pytest.mark.parametrize("truncation", [8, None])
def test_duckdb_hashes_equal_the_python_recipe(algorithm: str, truncation: int | None) -> None:
    sql, want = _golden_queries("duckdb", algorithm, truncation)
    assert list(duckdb.connect().execute(sql).fetchone() or ()) == want


@pytest.mark.parametrize("algorithm", ["xxhash32", "xxhash64", "md5", "sha256"])
@pytest.mark.parametrize("truncation", [8, None])
def test_clickhouse_hashes_equal_the_python_recipe(algorithm: str, truncation: int | None) -> None:
    chdb = pytest.importorskip("chdb", reason="chdb (embedded ClickHouse) is not installed")
    sql, want = _golden_queries("clickhouse", algorithm, truncation)
    result = chdb.query(sql, "ArrowStream")
    row = pl.from_arrow(pa.ipc.open_stream(result.bytes()).read_all())
    assert isinstance(row, pl.DataFrame)
    assert list(row.row(0)) == want


def test_frozen_vectors_for_sql_hashes() -> None:
    """A changed hash breaks stored metadata: these values are frozen on purpose."""
    con = duckdb.connect()
    assert con.execute(_golden_queries("duckdb", "md5", 8)[0]).fetchone()[0] == hash_text("|", MD5)  # type: ignore[index]
    assert hash_text("|", MD5) == "b99834bc"

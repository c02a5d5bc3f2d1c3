"""PostgreSQL reads of large tables in parts by ranges of storage blocks (metaxy/stores/sqlalchemy/_ctid_parts.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import polars as pl
import pytest
import sqlalchemy as sa
import sqlglot
from polars.testing import assert_frame_equal

import metaxy as mx
from metaxy.stores.sqlalchemy import _ctid_parts as parts
from tests.stores.graphs import video_graph, videos
from tests.stores.sqlalchemy._statements import arrow_reads

ROWS = 3000


def test_only_reads_returning_one_table_s_rows_one_for_one_are_split() -> None:
    plain = "SELECT r.a, r.b ->> 'x' FROM (SELECT a, b FROM t WHERE v = 'x') AS r WHERE r.a > 3"
    assert parts.plain_table(sqlglot.parse_one(plain, read="postgres")) is not None
    for across_rows in (
        "SELECT MIN(a) FROM t",
        "SELECT a, ROW_NUMBER() OVER (PARTITION BY a) FROM t",
        "SELECT a FROM t LIMIT 0",
        "SELECT a FROM t ORDER BY a",
        "SELECT DISTINCT a FROM t",
        "SELECT a FROM t GROUP BY a",
        "SELECT t.a FROM t JOIN u ON t.a = u.a",
        "SELECT a FROM t UNION ALL SELECT a FROM u",
        f"SELECT r.a FROM ({plain}) AS r LIMIT 5",
    ):
        assert parts.plain_table(sqlglot.parse_one(across_rows, read="postgres")) is None, across_rows


def test_parts_cover_every_block_once_the_last_open_above() -> None:
    query = sqlglot.parse_one("SELECT r.a FROM (SELECT a FROM s.t AS x WHERE v = 'x') AS r", read="postgres")
    table = parts.plain_table(query)
    assert table is not None
    texts = [p.sql(dialect="postgres") for p in parts.in_parts(query, 10, 3)]
    assert [t.count("ctid") for t in texts] == [1, 2, 1]
    assert "x.ctid < CAST('(3,0)' AS tid)" in texts[0]
    assert "x.ctid >= CAST('(3,0)' AS tid)" in texts[1]
    assert "x.ctid < CAST('(6,0)' AS tid)" in texts[1]
    assert "x.ctid >= CAST('(6,0)' AS tid)" in texts[2]
    assert "v = 'x'" in texts[2]  # the read's own filter stays


def test_a_server_without_tid_range_scans_or_a_small_table_is_read_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parts, "MAX_PARTS", 4)
    assert parts.part_count(10 * parts.MIN_PART_BLOCKS, 130012) == 1
    assert parts.part_count(parts.MIN_PART_BLOCKS - 1, 150004) == 1
    assert parts.part_count(3 * parts.MIN_PART_BLOCKS, 150004) == 3
    assert parts.part_count(10 * parts.MIN_PART_BLOCKS, 150004) == 4


@pytest.fixture
def pg(postgres_url: str) -> Iterator[mx.SQLAlchemyMetadataStore]:
    """An open store on the test server, reading through ADBC (``split`` makes its reads of the ~100
    blocks :func:`written` fills go in three parts)."""
    with mx.SQLAlchemyMetadataStore(postgres_url, table_prefix=f"c{uuid.uuid4().hex[:10]}_") as store:
        if store._reader is None:
            pytest.skip("adbc-driver-postgresql is not installed: reads go row by row, never in parts")
        yield store


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "MIN_PART_BLOCKS", 8)
    monkeypatch.setattr(parts, "MAX_PARTS", 3)


def written(store: mx.SQLAlchemyMetadataStore) -> type[mx.Feature]:
    video = video_graph().video
    rows = videos(list(range(ROWS)), audio="a" * 150)
    store.write_metadata(video, rows)
    store.write_metadata(video, rows.filter(pl.col("sample_uid") % 7 == 0).with_columns(path=pl.lit("new")))
    return video


def latest(store: mx.SQLAlchemyMetadataStore, feature: type[mx.Feature]) -> pl.DataFrame:
    return store.read_metadata(feature).select("sample_uid", "path", "metaxy_provenance_by_field").collect()


@pytest.mark.usefixtures("split")
def test_a_large_read_in_parts_returns_what_one_read_returns(
    pg: mx.SQLAlchemyMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = written(pg)
    statements = arrow_reads(pg)
    frame = latest(pg, video).sort("sample_uid")
    split_reads = [s for s in statements if "ctid" in s]
    assert len(split_reads) == 3
    monkeypatch.setattr(parts, "MIN_PART_BLOCKS", 10**9)
    statements.clear()
    whole = latest(pg, video).sort("sample_uid")
    assert not any("ctid" in s for s in statements)
    assert_frame_equal(frame, whole)
    assert frame.height == ROWS
    assert frame.filter(pl.col("path") == "new").height == len(range(0, ROWS, 7))


@pytest.mark.usefixtures("split")
def test_every_part_sees_the_rows_committed_when_the_read_began(pg: mx.SQLAlchemyMetadataStore) -> None:
    """A deletion another connection commits just before the last part runs is not seen by it: the
    parts share the first one's snapshot, taken before."""
    video = written(pg)
    table = f"{pg.table_prefix}video__raw"
    before = latest(pg, video).sort("sample_uid")
    assert pg._reader is not None
    deleted = []

    def delete_first(statement: str) -> None:
        if "ctid" in statement and '"ctid" <' not in statement and not deleted:  # the last part
            deleted.append(statement)
            with pg.engine.begin() as conn:
                conn.execute(sa.text(f'DELETE FROM "{table}" WHERE sample_uid <> 0'))

    pg._reader.listeners.append(delete_first)
    during = latest(pg, video).sort("sample_uid")
    assert deleted, "no part of the read ran open above"
    assert_frame_equal(during, before)
    assert latest(pg, video).height == 1  # the next read sees the deletion


@pytest.mark.usefixtures("split")
def test_connections_leave_the_snapshot_with_the_read(pg: mx.SQLAlchemyMetadataStore) -> None:
    video = written(pg)
    assert latest(pg, video).height == ROWS
    pg.write_metadata(video, videos([ROWS, ROWS + 1], audio="a" * 150))
    assert latest(pg, video).height == ROWS + 2


@pytest.mark.usefixtures("split")
def test_a_failing_part_fails_the_read_and_the_next_read_works(pg: mx.SQLAlchemyMetadataStore) -> None:
    video = written(pg)
    assert pg._reader is not None

    class Broken(Exception):
        pass

    def fail_once(statement: str) -> None:
        if "ctid" in statement and not failed:
            failed.append(statement)
            raise Broken

    failed: list[str] = []
    pg._reader.listeners.append(fail_once)
    with pytest.raises(Broken):
        latest(pg, video)
    assert latest(pg, video).height == ROWS


def test_a_small_table_is_read_in_one_statement(pg: mx.SQLAlchemyMetadataStore) -> None:
    video = written(pg)
    statements = arrow_reads(pg)
    assert latest(pg, video).height == ROWS
    assert not any("ctid" in s or "pg_export_snapshot" in s for s in statements)


def test_json_of_parts_decodes_alike_when_a_part_has_no_rows(pg: mx.SQLAlchemyMetadataStore) -> None:
    """JSON is decoded once the parts are together: a part without rows alone would decode to a
    struct of no fields, which no other part's rows fit."""
    assert pg._reader is not None
    with_rows = ("""SELECT '{"a": "x"}'::jsonb AS s""", {})
    without = ("""SELECT '{"a": "x"}'::jsonb AS s WHERE FALSE""", {})
    frame = pg._reader.fetch_parts([without, with_rows])
    assert frame.schema["s"] == pl.Struct({"a": pl.String})
    assert frame["s"].to_list() == [{"a": "x"}]

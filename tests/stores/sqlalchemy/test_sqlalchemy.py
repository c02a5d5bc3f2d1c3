"""What is specific to the SQLAlchemy store: JSONB / JSON layout, transactions, evolution, quoting."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import sqlglot.expressions as exp
from polars.testing import assert_frame_equal

import metaxy as mx
from metaxy.exceptions import ReadOnlyStoreError, SchemaError, StoreBackendError
from metaxy.stores.sqlalchemy import schema as types
from metaxy.stores.sqlalchemy import sqlite as sqlite_module
from metaxy.stores.sqlalchemy.sqlite import insert_rows
from tests.stores._held import collected_within, lock_held
from tests.stores.graphs import video_graph, videos
from tests.stores.sqlalchemy._statements import arrow_reads


@pytest.fixture
def pg(postgres_url: str) -> Iterator[mx.SQLAlchemyMetadataStore]:
    with mx.SQLAlchemyMetadataStore(postgres_url, table_prefix=f"p{uuid.uuid4().hex[:10]}_") as store:
        yield store


@pytest.fixture
def pg_native(postgres_url: str) -> Iterator[mx.SQLAlchemyMetadataStore]:
    """An open store on the test server that versions in PostgreSQL (md5), in tables of its own."""
    store = mx.SQLAlchemyMetadataStore(
        postgres_url,
        table_prefix=f"n{uuid.uuid4().hex[:10]}_",
        enable_native_computation=True,
        versioning_engine="native",
        hash_algorithm="md5",
    )
    with store:
        yield store


def _table(store: mx.SQLAlchemyMetadataStore) -> str:
    return f"{store.table_prefix}video__raw"


def test_by_field_columns_are_jsonb_on_postgres(pg: mx.SQLAlchemyMetadataStore) -> None:
    g = video_graph()
    pg.write_metadata(g.video, videos([1]))
    with pg.engine.connect() as conn:
        kinds = dict(
            conn.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = :t"
                ),
                {"t": _table(pg)},
            ).all()
        )
        audio = conn.execute(
            sa.text(f"SELECT metaxy_provenance_by_field ->> 'audio' FROM \"{_table(pg)}\"")
        ).scalar_one()
    assert kinds["metaxy_provenance_by_field"] == "jsonb"
    assert kinds["metaxy_updated_at"] == "timestamp with time zone"
    assert audio == "a1"
    out = pg.read_metadata(g.video).collect()
    assert out.schema["metaxy_provenance_by_field"] == pl.Struct({"audio": pl.String, "frames": pl.String})


def test_by_field_columns_are_json_text_on_sqlite(tmp_path: Path) -> None:
    g = video_graph()
    db = tmp_path / "m.db"
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{db}") as store:
        store.write_metadata(g.video, videos([1]))
    raw = (
        sqlite3.connect(db).execute("SELECT metaxy_provenance_by_field FROM metaxy_video__raw").fetchone()[0]
    )
    assert json.loads(raw) == {"audio": "a1", "frames": "f1"}


def test_sqlite_writes_store_every_type_as_sqlalchemy_does(tmp_path: Path) -> None:
    """The bulk SQLite write encodes columns in Polars: what it stores equals what SQLAlchemy's
    ``insert`` stores row by row (the same texts for timestamps and dates, integers for booleans),
    except JSON's spacing (compact here), so files written either way read alike."""
    frame = pl.DataFrame(
        {
            "i": [1, None, -5],
            "f": [0.5, None, 1e-7],
            "b": [True, None, False],
            "s": ["x", None, 'é\n"q'],
            "c": pl.Series(["a", "b", None], dtype=pl.Categorical),
            "zoned": [
                dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                None,
                dt.datetime(1999, 12, 31, 23, 59, 59, 123, tzinfo=dt.UTC),
            ],
            "naive": [dt.datetime(2026, 1, 1), None, dt.datetime(2026, 1, 2, 3, 4, 5, 6)],
            "d": [dt.date(2026, 1, 1), None, dt.date(5, 1, 2)],
            "bin": [b"\x00\x01", None, b""],
            "st": [{"a": "x", "n": 1}, None, {"a": None, "n": None}],
            "floats": [{"x": 0.1, "y": True}, {"x": None, "y": None}, None],
            "l": [["a", "b"], None, []],
        }
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    metadata = sa.MetaData()
    columns = {n: types.sql_type(t, postgres=False) for n, t in frame.schema.items()}
    by_rows = sa.Table("by_rows", metadata, *[sa.Column(n, t) for n, t in columns.items()])
    sa.Table("bulk", metadata, *[sa.Column(n, t) for n, t in columns.items()])
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(sa.insert(by_rows), types.to_rows(frame))
        insert_rows(conn, "bulk", frame)
        expected = conn.exec_driver_sql("SELECT * FROM by_rows").fetchall()
        stored = conn.exec_driver_sql("SELECT * FROM bulk").fetchall()
    engine.dispose()
    json_columns = {"st", "floats", "l"}
    for want, got in zip(expected, stored, strict=True):
        for name, a, b in zip(frame.columns, want, got, strict=True):
            if name in json_columns:  # SQLAlchemy stores a null list as the JSON text 'null'
                assert (None if a is None else json.loads(a)) == (None if b is None else json.loads(b)), name
            else:
                assert (a, type(a)) == (b, type(b)), name


def test_a_sqlite_file_with_rows_written_row_by_row_reads_alike(tmp_path: Path) -> None:
    """Files written before the bulk writes hold JSON as ``json.dumps`` spaces it; appended rows are
    compact. Reads (whole JSON decoded, or fields extracted by SQLite) take both."""
    g = video_graph()
    db = tmp_path / "m.db"
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{db}") as store:
        store.write_metadata(g.video, videos([1, 2]))
    with sqlite3.connect(db) as con:  # rows 1-2 as an earlier version stored them
        for uid in (1, 2):
            con.execute(
                "UPDATE metaxy_video__raw SET metaxy_provenance_by_field = ? WHERE sample_uid = ?",
                (json.dumps({"audio": f"a{uid}", "frames": f"f{uid}"}), uid),
            )
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{db}") as store:
        store.write_metadata(g.video, videos([3]))
        latest = store.read_metadata(g.video).collect().sort("sample_uid")
        history = store.read_metadata(g.video, history=True).collect().sort("sample_uid")
    for frame in (latest, history):
        assert frame["metaxy_provenance_by_field"].to_list() == [
            {"audio": f"a{i}", "frames": f"f{i}"} for i in (1, 2, 3)
        ]


def test_a_sqlite_write_failing_in_a_later_chunk_leaves_no_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write goes to SQLite a chunk of rows at a time, all in one transaction: a failure in the
    third chunk (a real trigger aborting the insert) rolls back the two chunks before it."""
    monkeypatch.setattr(sqlite_module, "INSERT_CHUNK_ROWS", 10)
    g = video_graph()
    db = tmp_path / "m.db"
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{db}") as store:
        store.write_metadata(g.video, videos(list(range(25))))
        assert store.read_metadata(g.video).collect().height == 25  # three chunks landed together
    with sqlite3.connect(db) as con:
        con.execute(
            "CREATE TRIGGER no_bad BEFORE INSERT ON metaxy_video__raw WHEN NEW.sample_uid = 125 "
            "BEGIN SELECT RAISE(ABORT, 'sample 125 refused'); END"
        )
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{db}") as store:
        with pytest.raises(StoreBackendError, match="sample 125 refused"):
            store.write_metadata(g.video, videos(list(range(100, 130))))
        history = store.read_metadata(g.video, history=True).collect()
    assert sorted(history["sample_uid"].to_list()) == list(range(25))


def test_an_interrupted_write_leaves_no_rows(pg: mx.SQLAlchemyMetadataStore) -> None:
    g = video_graph()
    pg.write_metadata(g.video, videos([1]))
    with pg.engine.begin() as conn:  # a real database-side failure on the last row of the next write
        conn.execute(sa.text(f"ALTER TABLE \"{_table(pg)}\" ADD CONSTRAINT no_bad CHECK (path <> 'v9.mp4')"))
    with pytest.raises(StoreBackendError, match="no_bad"):
        pg.write_metadata(g.video, videos([2, 3, 9]))
    assert pg.read_metadata(g.video, history=True).collect()["sample_uid"].to_list() == [1]


def test_new_columns_are_added_and_changed_types_refused(pg: mx.SQLAlchemyMetadataStore) -> None:
    g = video_graph()
    pg.write_metadata(g.video, videos([1]))
    pg.write_metadata(g.video, videos([2]).with_columns(fps=pl.lit(25)))
    assert pg.read_metadata(g.video).collect().sort("sample_uid")["fps"].to_list() == [None, 25]
    with pytest.raises(
        SchemaError, match="column 'path' is stored as String but the written frame has Int64"
    ):
        pg.write_metadata(g.video, videos([3]).with_columns(path=pl.lit(3)))
    assert pg.read_metadata(g.video, history=True).collect().height == 2


def test_a_copy_into_a_wrapped_sqlite_store_refuses_quoted_column_names_too(tmp_path: Path) -> None:
    g = video_graph()
    source = mx.InMemoryMetadataStore(name="source")
    target = mx.CachedMetadataStore(mx.SQLAlchemyMetadataStore.scratch(tmp_path))
    with source, target:
        source.write_metadata(g.video, videos([1]).with_columns(pl.lit("y").alias('a"b')))
        with pytest.raises(SchemaError, match="cannot be stored in a SQL table"):
            target.copy_metadata(source)
        assert target.list_features() == []


def test_hostile_names_are_quoted_or_refused(tmp_path: Path) -> None:
    g = video_graph()
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'q.db'}", table_prefix="x; drop ") as store:
        odd = "odd name; DROP TABLE metaxy --"
        store.write_metadata(g.video, videos([1]).with_columns(pl.lit("y").alias(odd)))
        assert store.read_metadata(g.video).collect()[odd].to_list() == ["y"]
        with pytest.raises(SchemaError, match="cannot be stored in a SQL table"):
            store.write_metadata(g.video, videos([2]).with_columns(pl.lit("y").alias('a"b')))
        assert store.list_features() == [g.video.key()]


def test_zone_aware_timestamps_stay_zone_aware_when_the_file_is_reopened(tmp_path: Path) -> None:
    class Clock(mx.Feature, spec=mx.FeatureSpec(key="clock", fields=[mx.FieldSpec(key="default")])):
        pass

    url = f"sqlite:///{tmp_path / 'tz.db'}"
    when = dt.datetime(2024, 1, 1, 5, tzinfo=dt.UTC)
    frame = pl.DataFrame({"sample_uid": [1], "t": [when], "naive": [when.replace(tzinfo=None)]})
    frame = frame.with_columns(metaxy_provenance_by_field=pl.struct(default=pl.lit("p")))
    with mx.SQLAlchemyMetadataStore(url) as store:
        store.write_metadata(Clock, frame)
    with mx.SQLAlchemyMetadataStore(url) as store:  # a new store object reflects the table
        out = store.read_metadata(Clock).collect()
        assert out.schema["t"] == pl.Datetime("us", "UTC")
        assert out.schema["naive"] == pl.Datetime("us")
        assert out["t"].to_list() == [when]
        store.write_metadata(Clock, frame.with_columns(sample_uid=pl.lit(2, pl.Int64)))


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    store = mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'r.db'}", read_only=True)
    with store, pytest.raises(ReadOnlyStoreError):
        store.write_metadata(video_graph().video, videos([1]))


@pytest.fixture
def sent(pg: mx.SQLAlchemyMetadataStore) -> Iterator[list[str]]:
    """Every SQL statement the store sends to PostgreSQL."""
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(pg.engine, "before_cursor_execute", record)
    if pg._reader is not None:  # reads through ADBC bypass SQLAlchemy's connections
        pg._reader.listeners.append(statements.append)
    yield statements
    sa.event.remove(pg.engine, "before_cursor_execute", record)


def test_filters_and_latest_rows_run_in_postgres(pg: mx.SQLAlchemyMetadataStore, sent: list[str]) -> None:
    g = video_graph()
    rows = videos([1, 2, 3]).with_columns(
        path=pl.when(pl.col("sample_uid") == 3).then(pl.lit("50%.mp4")).otherwise("path")
    )
    pg.write_metadata(g.video, rows)
    sent.clear()
    out = pg.read_metadata(g.video, filters=[pl.col("sample_uid") >= 2, pl.col("path") != "50%.mp4"])
    assert out.collect()["sample_uid"].to_list() == [2]  # '%' reaches PostgreSQL intact
    (select,) = [s for s in sent if "ROW_NUMBER()" in s.upper() and "LIMIT 0" not in s.upper()]
    assert re.search(r'"path" <> (%\(p\d+\)s|\$\d+)', select)  # strings with syntax are bound
    assert "50%" not in select
    # an integer goes into the text typed (ADBC reads statements without parameters through COPY)
    assert re.search(r'"sample_uid" >= (\(2\)::bigint|%\(p\d+\)s)', select)


def test_native_md5_resolution_is_one_query_hashing_in_postgres(
    postgres_url: str, pg_native: mx.SQLAlchemyMetadataStore
) -> None:
    g = video_graph()
    store = pg_native
    store.write_metadata(g.video, videos([1, 2]))
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    if store._reader is not None:  # reads through ADBC bypass SQLAlchemy's connections
        store._reader.listeners.append(statements.append)
    increment = store.resolve_update(g.transcript)
    assert sorted(increment.new["sample_uid"]) == [1, 2]
    hashing = [s for s in statements if "MD5(" in s.upper()]
    assert len(hashing) == 1
    prefix = store.table_prefix
    with mx.SQLAlchemyMetadataStore(postgres_url, table_prefix=prefix, hash_algorithm="md5") as polars_side:
        assert not polars_side.supports_native_versioning()  # native computation is opt-in
        reference = polars_side.resolve_update(g.transcript)
    assert increment.new.sort("sample_uid").equals(reference.new.sort("sample_uid"))


def test_native_resolution_plan_hashes_each_field_once(
    pg_native: mx.SQLAlchemyMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's plan computes each hash once per row: inlining the field-hash CTE would copy every
    field hash into the provenance hash (measured at 1M rows: 26-37% of a ``new`` resolution)."""
    g = video_graph()
    store = pg_native
    queries: list[tuple[str, dict[str, Any]]] = []
    fetch = store._fetch

    def recorded(query: exp.Expr) -> pl.DataFrame:
        queries.append(store.dialect.render_bound(query))
        return fetch(query)

    monkeypatch.setattr(store, "_fetch", recorded)
    store.write_metadata(g.video, videos([1, 2]))
    store.write_metadata(g.transcript, store.resolve_update(g.transcript).new)
    queries.clear()
    store.resolve_update(g.transcript)  # against stored rows: the comparison reads the hashes too
    ((sql, params),) = [q for q in queries if "MD5(" in q[0].upper()]
    with store.engine.connect() as conn:
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN (VERBOSE) {sql}", params))
    assert plan.lower().count("md5(") == 2  # the field `text`, then the provenance over it


def test_hard_delete_by_filter_runs_as_sql_delete(pg: mx.SQLAlchemyMetadataStore, sent: list[str]) -> None:
    g = video_graph()
    pg.write_metadata(g.video, videos([1, 2, 3]))
    assert pg.delete_metadata(g.video, filters=pl.col("sample_uid").is_in([1, 3]), soft=False) == 2
    deletes = [s for s in sent if s.startswith("DELETE FROM")]
    assert any(re.search(r'"sample_uid" IN \(%\(p\d+\)s, %\(p\d+\)s\)', s) for s in deletes)


def test_in_memory_sqlite_keeps_data_across_close() -> None:
    g = video_graph()
    store = mx.SQLAlchemyMetadataStore("sqlite://")
    with store:
        store.write_metadata(g.video, videos([1]))
    with store:
        assert store.read_metadata(g.video).collect().height == 1


def test_a_postgres_store_exists_once_it_holds_a_table_and_probing_creates_nothing(postgres_url: str) -> None:
    prefix = f"e{uuid.uuid4().hex[:10]}_"
    store = mx.SQLAlchemyMetadataStore(postgres_url, table_prefix=prefix)
    assert not store.exists()  # reachable, but no table of this store
    with store:
        assert not store.exists()  # opening creates no table either
        store.write_metadata(video_graph().video, videos([1]))
    assert store.exists()


def test_postgres_settings_apply_to_reads_and_writes(postgres_url: str) -> None:
    prefix = f"s{uuid.uuid4().hex[:10]}_"
    custom = {"work_mem": "17MB", "jit": "on"}
    with mx.SQLAlchemyMetadataStore(postgres_url, table_prefix=prefix, postgres_settings=custom) as store:
        with store.engine.connect() as conn:  # the psycopg connections (writes, schema reads)
            assert conn.exec_driver_sql("SHOW work_mem").scalar_one() == "17MB"
        assert store._reader is not None  # the Arrow reads: ADBC connections of their own
        assert store._reader.fetch("SELECT current_setting('work_mem') AS w", {})["w"].to_list() == ["17MB"]
    with (
        mx.SQLAlchemyMetadataStore(postgres_url, table_prefix=prefix) as store,
        store.engine.connect() as conn,
    ):
        assert conn.exec_driver_sql("SHOW work_mem").scalar_one() == "256MB"
        assert conn.exec_driver_sql("SHOW jit").scalar_one() == "off"


def test_postgres_setting_names_are_checked_at_construction() -> None:
    with pytest.raises(mx.MetaxyError, match="not a PostgreSQL setting name") as caught:
        mx.SQLAlchemyMetadataStore("postgresql+psycopg://x@h/db", postgres_settings={"work_mem = 1; --": "x"})
    assert "work_mem" in (caught.value.hint or "")


def test_a_large_write_leaves_planner_statistics(
    pg: mx.SQLAlchemyMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metaxy.stores.sqlalchemy import store as module

    g = video_graph()
    monkeypatch.setattr(module, "ANALYZE_ROWS", 3)
    pg.write_metadata(g.video, videos([1, 2]))  # small: the planner keeps its guess
    count = "SELECT reltuples FROM pg_class WHERE relname = :name"
    with pg.engine.connect() as conn:
        assert conn.execute(sa.text(count), {"name": _table(pg)}).scalar_one() < 0  # never analyzed
    pg.write_metadata(g.video, videos([3, 4, 5]))
    with pg.engine.connect() as conn:
        assert conn.execute(sa.text(count), {"name": _table(pg)}).scalar_one() == 5


def test_row_by_row_reads_equal_arrow_reads(pg: mx.SQLAlchemyMetadataStore) -> None:
    """Without adbc-driver-postgresql reads go through psycopg: the same frames, slower."""
    g = video_graph()
    rows = videos([1, 2, 3]).with_columns(
        score=pl.Series([0.5, float("nan"), None]), flag=pl.Series([True, None, False])
    )
    pg.write_metadata(g.video, rows)
    assert_rows_read_alike(pg, "_reader", g.video)


def assert_rows_read_alike(store: mx.SQLAlchemyMetadataStore, reader: str, feature: type[mx.Feature]) -> None:
    """``feature``'s rows read through the store's Arrow ``reader`` equal those read row by row."""
    arrow = store.read_metadata(feature).collect().sort("sample_uid")
    saved = getattr(store, reader)
    setattr(store, reader, None)
    try:
        by_rows = store.read_metadata(feature).collect().sort("sample_uid")
    finally:
        setattr(store, reader, saved)
    assert arrow.schema == by_rows.schema
    assert arrow.equals(by_rows)


@pytest.fixture(scope="module")
def icu_postgres_url(postgres_url: str) -> str:
    """A database on the test server whose default collation is ICU ``en-US`` (``a < B < b``)."""
    name = f"icu_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE {name} LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0"
        )
    engine.dispose()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


def test_native_aggregation_orders_string_ids_by_bytes_whatever_the_collation(icu_postgres_url: str) -> None:
    """Group members are joined in the order Polars sorts their ids (bytes), not the database's."""
    graph = mx.FeatureGraph()
    with graph.use():

        class Chunk(
            mx.Feature,
            spec=mx.FeatureSpec(
                key="agg/chunk", id_columns=["speaker", "chunk"], fields=[mx.FieldSpec(key="e")]
            ),
        ):
            pass

        class Speaker(
            mx.Feature,
            spec=mx.FeatureSpec(
                key="agg/speaker",
                id_columns=["speaker"],
                deps=[
                    mx.FeatureDep(feature=Chunk, lineage=mx.LineageRelationship.aggregation(on=["speaker"]))
                ],
                fields=[mx.FieldSpec(key="profile")],
            ),
        ):
            pass

        chunks = pl.DataFrame({"speaker": ["ann"] * 3, "chunk": ["b", "B", "a"]}).with_columns(
            metaxy_provenance_by_field=pl.struct(e=pl.col("chunk") + "1")
        )
        native = mx.SQLAlchemyMetadataStore(
            icu_postgres_url, enable_native_computation=True, versioning_engine="native", hash_algorithm="md5"
        )
        with native:
            native.write_metadata(Chunk, chunks)
            got = native.resolve_update(Speaker).new
        with mx.InMemoryMetadataStore(hash_algorithm="md5") as reference:
            reference.write_metadata(Chunk, chunks)
            expected = reference.resolve_update(Speaker).new
    assert got["metaxy_provenance"].to_list() == expected["metaxy_provenance"].to_list()


def test_sqlite_file_reads_go_through_adbc_and_equal_row_reads(tmp_path: Path) -> None:
    """A SQLite file is read through adbc-driver-sqlite (column-wise); every type reads back as the row
    path reads it, including values SQLite's type inference cannot take column-wise (timestamps,
    all-null columns, a boolean column, a float column holding whole numbers)."""
    g = video_graph()
    rows = videos([1, 2, 3]).with_columns(
        score=pl.Series([0.5, 2.0, None]),
        whole=pl.Series([1.0, 2.0, 3.0]),
        flag=pl.Series([True, None, False]),
        day=pl.Series([dt.date(2026, 1, 1), None, dt.date(2026, 12, 3)]),
        empty=pl.Series([None, None, None], dtype=pl.String),
    )
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'm.db'}") as store:
        store.write_metadata(g.video, rows)
        assert store._sqlite_reader is not None
        sent: list[str] = []
        store._sqlite_reader.listeners.append(sent.append)
        assert_rows_read_alike(store, "_sqlite_reader", g.video)
        assert sent  # the first read went through ADBC


def test_an_all_null_sqlite_column_is_chunked_like_the_others(tmp_path: Path) -> None:
    """A column with no value (the tombstones of a history without deletes) is typed by the row path,
    then cut into the record batches the other columns came in: a frame of misaligned chunks would be
    copied whole by the first expression spanning columns."""
    g = video_graph()
    batch = int(sqlite_module._BATCH_OPTIONS["adbc.sqlite.query.batch_rows"])
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'm.db'}") as store:
        store.write_metadata(g.video, videos(list(range(batch + 10))))
        assert store._sqlite_reader is not None
        sql = f"SELECT sample_uid, metaxy_deleted_at FROM {_table(store)}"
        frame = store._sqlite_reader.fetch(sql, {}, {"metaxy_deleted_at": sa.DateTime(timezone=True)})
    assert frame is not None
    assert frame.schema["metaxy_deleted_at"] == pl.Datetime("us", "UTC")
    assert frame["metaxy_deleted_at"].null_count() == batch + 10
    assert frame["sample_uid"].chunk_lengths() == frame["metaxy_deleted_at"].chunk_lengths() == [batch, 10]


@pytest.mark.parametrize("where", ["first batch", "later batch"])
def test_a_sqlite_column_changing_type_partway_reads_without_loss(
    where: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite keeps any value in any column. ADBC infers a column's type from its first record batch:
    a text value there makes the column text, which the store reads back typed; a text value in a later
    batch makes ADBC refuse the result, and the store then reads rows. Either way nothing is lost."""
    g = video_graph()
    db = tmp_path / "m.db"
    batch = int(sqlite_module._BATCH_OPTIONS["adbc.sqlite.query.batch_rows"])
    n = 3000 if where == "first batch" else batch + 3000
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{db}") as store:
        store.write_metadata(g.video, videos(list(range(n))))
    with sqlite3.connect(db) as con:  # a text value deep in an integer column, as another tool might
        con.execute("UPDATE metaxy_video__raw SET sample_uid = 'x' WHERE sample_uid = ?", (n - 1,))
    with (
        mx.SQLAlchemyMetadataStore(f"sqlite:///{db}") as store,
        caplog.at_level(logging.DEBUG, "metaxy.stores.sqlalchemy.sqlite"),
    ):
        frame = store.read_metadata(g.video).collect()
    # ADBC was tried first; past its first batch it refused the column
    assert ("reading rows instead" in caplog.text) == (where == "later batch")
    assert frame.height == n
    assert frame["sample_uid"].null_count() == 1  # as the row path reads a text value in a BIGINT column


def test_sqlite_latest_reads_fetch_the_other_columns_of_the_picked_rows_only(tmp_path: Path) -> None:
    """The latest rows are picked from ids, timestamps and rowids; their other columns are then read
    by ranges of rowids (after a full rewrite, one range: the first write's versions are never read)."""
    g = video_graph()
    ids = list(range(100))
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'm.db'}") as store:
        store.write_metadata(g.video, videos(ids, audio="old"))
        store.write_metadata(g.video, videos(ids, audio="new"))
        sent = arrow_reads(store)
        rows = store.read_metadata(g.video).collect().sort("sample_uid")
    assert rows["metaxy_provenance_by_field"].struct.field("audio").to_list() == [f"new{i}" for i in ids]
    (light,) = [sql for sql in sent if sql.startswith("SELECT `__mx_row_number`")]
    (heavy,) = [sql for sql in sent if "BETWEEN" in sql]
    assert "JSON_EXTRACT" not in _returned(light)  # no version is read to pick
    assert "JSON_EXTRACT" in heavy
    assert heavy.endswith("BETWEEN 101 AND 200")  # the second write's rows only


def test_a_sqlite_write_cannot_come_between_the_reads_of_one_latest_read(tmp_path: Path) -> None:
    """The pick and the read of the picked rows share one read transaction: another process's write
    waits for both (here it gives up at once), so the rowids picked still name the same rows. (The
    writer is a process of its own: ADBC's SQLite library and Python's are two copies of SQLite, and
    two copies in one process do not see each other's locks.)"""
    g = video_graph()
    db = tmp_path / "m.db"
    outcomes: list[str] = []
    delete = (
        "import sqlite3, sys\n"
        "con = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
        "try:\n"
        "    con.execute('DELETE FROM metaxy_video__raw')\n"
        "    print('deleted')\n"
        "except sqlite3.OperationalError as exc:\n"
        "    print(exc)\n"
    )

    def write_between(sql: str) -> None:
        if "BETWEEN" in sql:  # the read of the picked rows is about to run
            done = subprocess.run([sys.executable, "-c", delete, str(db)], capture_output=True, text=True)
            outcomes.append(done.stdout.strip() or done.stderr)

    with mx.SQLAlchemyMetadataStore(f"sqlite:///{db}") as store:
        store.write_metadata(g.video, videos([1, 2, 3], audio="old"))
        store.write_metadata(g.video, videos([2], audio="new"))
        assert store._sqlite_reader is not None
        store._sqlite_reader.listeners.append(write_between)
        rows = store.read_metadata(g.video).collect().sort("sample_uid")
        assert outcomes == ["database is locked"]
        assert rows["metaxy_provenance_by_field"].struct.field("audio").to_list() == ["old1", "new2", "old3"]
        store._sqlite_reader.listeners.clear()
        assert store.read_metadata(g.video).collect().height == 3  # the write never happened


@pytest.fixture(params=["postgres", "sqlite"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[mx.SQLAlchemyMetadataStore]:
    """An open store on the test PostgreSQL server (tables of its own) or on a SQLite file."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        store = mx.SQLAlchemyMetadataStore(url, table_prefix=f"f{uuid.uuid4().hex[:10]}_")
    else:
        store = mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    with store:
        yield store


def test_a_sqlite_read_runs_while_another_thread_holds_the_store_s_lock(tmp_path: Path) -> None:
    """A SQLite file read through ADBC runs in a read transaction of its own, not under the store's
    lock: Polars reads a resolution's upstreams side by side, on threads of their own. (PostgreSQL's
    latest reads keep the lock: side by side, two 10M-row reads held both reads' buffers at once;
    docs/performance-history.md, session 22.)"""
    g = video_graph()
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'm.db'}") as store:
        store.write_metadata(g.video, videos([1, 2, 3]))
        lazy = store.read_metadata(g.video)  # looks the table up now, on this thread
        with lock_held(store):
            assert sorted(collected_within(lazy)["sample_uid"]) == [1, 2, 3]


def test_a_hard_delete_sql_cannot_express_rewrites_the_kept_rows_unchanged(
    any_db: mx.SQLAlchemyMetadataStore,
) -> None:
    """A delete filter with no SQL translation is evaluated in Polars and the table rewritten in one
    transaction, the kept rows inserted as a write inserts them (COPY, or SQLite's bulk insert)."""
    g = video_graph()
    any_db.write_metadata(g.video, videos([1, 2, 3]))
    any_db.write_metadata(g.video, videos([3], audio="b"))
    before = any_db.read_metadata(g.video, history=True).collect()
    doomed = pl.col("path").str.reverse() == "4pm.2v"  # v2.mp4
    assert any_db.delete_metadata(g.video, filters=doomed, soft=False) == 1
    after = any_db.read_metadata(g.video, history=True).collect()
    order = ["sample_uid", "metaxy_provenance"]
    assert_frame_equal(after.sort(order), before.filter(~doomed).sort(order), check_row_order=True)


def test_by_field_columns_are_extracted_field_by_field_and_read_as_json_would(
    any_db: mx.SQLAlchemyMetadataStore,
) -> None:
    """A read of one feature version fetches each field of a ``*_by_field`` column as text and packs
    the struct in Polars; the latest rows it picks from the history equal a window's, a NULL struct
    stays NULL (not a struct of nulls: the rows are read again with a NULL flag per struct, once a row
    with every field null turns up), and the frame equals the one decoded from whole JSON values."""
    g = video_graph()
    store = any_db
    store.write_metadata(g.video, videos([1, 2, 3, 4]))
    store.write_metadata(g.video, videos([2, 3], audio="A"))  # newer rows of samples 2 and 3
    store.delete_metadata(g.video, filters=[pl.col("sample_uid") == 4])
    table = f'"{_table(store)}"'
    with store.engine.begin() as conn:  # what an adopted store might hold: a row without by-field versions
        conn.execute(sa.text(f"UPDATE {table} SET metaxy_data_version_by_field = NULL WHERE sample_uid = 1"))
    sent = arrow_reads(store)
    frame = store.read_metadata(g.video).collect().sort("sample_uid")
    by_field = pl.Struct({"audio": pl.String, "frames": pl.String})
    assert frame.schema["metaxy_provenance_by_field"] == by_field
    assert frame["sample_uid"].to_list() == [1, 2, 3]  # 4 deleted
    assert frame["metaxy_provenance_by_field"].struct.field("audio").to_list() == ["a1", "A2", "A3"]
    assert frame["metaxy_data_version_by_field"].is_null().to_list() == [True, False, False]
    without_flags, with_flags = [s for s in sent if _table(store) in s and "audio" in s]
    for select in (without_flags, with_flags):
        assert " OVER " not in select.upper()  # the latest rows are picked in Polars, not by a window
        returned = _returned(select)  # (a subquery may name the column)
        assert not re.search(r'"metaxy_provenance_by_field"\s*(,|$)', returned)  # no whole JSON value
    assert " IS NULL AS " not in _returned(without_flags).upper()
    assert " IS NULL AS " in _returned(with_flags).upper()

    store._by_field_structs = lambda *args: ({}, [])  # type: ignore[method-assign]  # whole JSON again
    assert store.read_metadata(g.video).collect().sort("sample_uid").equals(frame)


def test_a_read_without_null_structs_fetches_no_null_flags(any_db: mx.SQLAlchemyMetadataStore) -> None:
    """While no row has every field of a ``*_by_field`` struct null, its fields come without a NULL
    flag beside them (one column fewer per row to parse), in one statement."""
    g = video_graph()
    any_db.write_metadata(g.video, videos([1, 2]))
    sent = arrow_reads(any_db)
    frame = any_db.read_metadata(g.video).collect()
    (select,) = [s for s in sent if _table(any_db) in s and "audio" in s]
    assert " IS NULL AS " not in _returned(select).upper()
    assert frame["metaxy_data_version_by_field"].null_count() == 0


def test_a_history_of_one_row_per_id_is_read_once_without_timestamps(
    any_db: mx.SQLAlchemyMetadataStore,
) -> None:
    """Ids 0 to 9 written once: one read of the columns the plan uses and the ids, no timestamps or
    tombstones (an aggregate said the history holds none), nothing picked."""
    g = video_graph()
    any_db.write_metadata(g.video, videos(list(range(10))))
    sent = arrow_reads(any_db)
    frame = any_db.read_metadata(g.video).select("sample_uid", "metaxy_provenance_by_field").collect()
    assert sorted(frame["sample_uid"]) == list(range(10))
    (select,) = [s for s in sent if _table(any_db) in s and "audio" in s]
    assert "metaxy_updated_at" not in _returned(select)
    assert "metaxy_deleted_at" not in _returned(select)
    assert not any("__mx_row_number" in s for s in sent)  # no pick first


def test_a_history_of_one_row_per_id_with_a_tombstone_drops_it(
    any_db: mx.SQLAlchemyMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tombstone whose sample's older row was removed: five rows for ids 0 to 4, each once, one of
    them a tombstone, so the one read fetches the tombstones too and leaves that sample out. (SQLite's
    guess from its first and last rows, ids 0 and 2 six rowids apart, would skip the one read.)"""
    monkeypatch.setattr(any_db, "_ids_repeat_likely", lambda *_: None)
    g = video_graph()
    any_db.write_metadata(g.video, videos(list(range(5))))
    any_db.delete_metadata(g.video, filters=pl.col("sample_uid") == 2)
    older = (pl.col("sample_uid") == 2) & pl.col("metaxy_deleted_at").is_null()
    assert any_db.delete_metadata(g.video, filters=older, soft=False) == 1
    sent = arrow_reads(any_db)
    frame = any_db.read_metadata(g.video).select("sample_uid", "metaxy_provenance_by_field").collect()
    assert sorted(frame["sample_uid"]) == [0, 1, 3, 4]
    (select,) = [s for s in sent if _table(any_db) in s and "audio" in s]
    assert "metaxy_deleted_at" in _returned(select)
    assert "metaxy_updated_at" not in _returned(select)


def test_a_history_looking_like_one_row_per_id_still_picks_the_latest(
    any_db: mx.SQLAlchemyMetadataStore,
) -> None:
    """Ids 0, 1, 3 and 5, a rewrite of 1 and a tombstone for 3: six rows for the six integers from 0
    to 5, read once without timestamps; ids 1 and 3 occur twice in it, so the latest rows are then
    picked as in any history."""
    g = video_graph()
    any_db.write_metadata(g.video, videos([0, 1, 3, 5], audio="old"))
    any_db.write_metadata(g.video, videos([1], audio="new"))
    any_db.delete_metadata(g.video, filters=pl.col("sample_uid") == 3)
    rows = any_db.read_metadata(g.video).select("sample_uid", "metaxy_provenance_by_field").collect()
    rows = rows.sort("sample_uid")
    assert rows["sample_uid"].to_list() == [0, 1, 5]
    assert rows["metaxy_provenance_by_field"].struct.field("audio").to_list() == ["old0", "new1", "old5"]


def test_repeated_ids_told_without_a_scan_spare_the_aggregate(any_db: mx.SQLAlchemyMetadataStore) -> None:
    """Once the database tells every id occurs twice without scanning (PostgreSQL's statistics after
    ANALYZE; SQLite's first and last rows, as after a full rewrite), a latest read skips the aggregate
    over the ids (it would find them not one per id) and picks from the history at once. With unique
    ids it reads once: on PostgreSQL, whose statistics then say so, with the tombstones and no
    aggregate; on SQLite, whose ends tell nothing then, after the aggregate. Either way the rows are
    the latest."""
    g = video_graph()
    store, table = any_db, _table(any_db)

    def analyze() -> None:  # what a write of 50,000 rows or more runs on PostgreSQL
        if store.is_postgres:
            with store.engine.begin() as conn:
                conn.execute(sa.text(f'ANALYZE "{table}"'))

    store.write_metadata(g.video, videos(list(range(50)), audio="old"))
    analyze()
    sent = arrow_reads(store)
    ids = store.read_metadata(g.video).select("sample_uid").collect()["sample_uid"]
    assert sorted(ids) == list(range(50))
    aggregates = [s for s in sent if "MIN(" in s and table in s]
    assert len(aggregates) == (0 if store.is_postgres else 1)  # unique ids: told, or counted
    (once,) = [s for s in sent if table in s and "sample_uid" in _returned(s) and "MIN(" not in s]
    assert ("metaxy_deleted_at" in _returned(once)) == store.is_postgres  # tombstones not counted
    assert "metaxy_updated_at" not in _returned(once)
    store.write_metadata(g.video, videos(list(range(50)), audio="new"))
    analyze()
    sent.clear()
    rows = store.read_metadata(g.video).select("sample_uid", "metaxy_provenance_by_field").collect()
    assert rows["metaxy_provenance_by_field"].struct.field("audio").str.starts_with("new").all()
    assert rows.height == 50
    assert not any("MIN(" in s for s in sent)  # every id twice: no aggregate


def test_ids_statistics_call_unique_that_repeat_still_pick_the_latest(pg: mx.SQLAlchemyMetadataStore) -> None:
    """PostgreSQL's statistics, taken when every id occurred once, guess wrong after a small rewrite
    (too few rows to refresh them): the one read finds an id twice and the latest rows are picked."""
    g = video_graph()
    table = _table(pg)
    pg.write_metadata(g.video, videos(list(range(20)), audio="old"))
    with pg.engine.begin() as conn:
        conn.execute(sa.text(f'ANALYZE "{table}"'))
    pg.write_metadata(g.video, videos([3, 7], audio="new"))
    sent = arrow_reads(pg)
    rows = (
        pg.read_metadata(g.video)
        .select("sample_uid", "metaxy_provenance_by_field")
        .collect()
        .sort("sample_uid")
    )
    assert not any("MIN(" in s for s in sent)  # the statistics spared the aggregate
    assert rows["sample_uid"].to_list() == list(range(20))
    audio = rows["metaxy_provenance_by_field"].struct.field("audio").to_list()
    assert audio == [f"{'new' if i in (3, 7) else 'old'}{i}" for i in range(20)]


def test_a_filter_no_row_passes_reads_nothing_when_the_statistics_call_ids_unique(
    pg: mx.SQLAlchemyMetadataStore,
) -> None:
    """The one read PostgreSQL's statistics allow returns no row: nothing to pick (it failed once,
    asking an empty column whether its ids rise)."""
    g = video_graph()
    pg.write_metadata(g.video, videos(list(range(20))))
    with pg.engine.begin() as conn:
        conn.execute(sa.text(f'ANALYZE "{_table(pg)}"'))
    assert pg.read_metadata(g.video, filters=pl.col("sample_uid") == 99).collect().height == 0
    assert pg.read_metadata(g.video, filters=pl.col("sample_uid") == 3).collect()["sample_uid"].to_list() == [
        3
    ]


def test_a_read_of_one_feature_version_fetches_no_version_string_per_row(
    any_db: mx.SQLAlchemyMetadataStore,
) -> None:
    """A lazy read keeps to the feature versions it looked up; with one, every row holds it, so the
    column comes as that one value instead of being fetched (one string per row to parse)."""
    g = video_graph()
    any_db.write_metadata(g.video, videos([1, 2, 3]))
    version = g.video.feature_version()
    for all_versions in (False, True):
        sent = arrow_reads(any_db)
        frame = (
            any_db.read_metadata(g.video, all_versions=all_versions)
            .select("sample_uid", "metaxy_feature_version", "metaxy_provenance")
            .collect()
        )
        assert frame.columns == ["sample_uid", "metaxy_feature_version", "metaxy_provenance"]
        assert frame["metaxy_feature_version"].to_list() == [version] * 3
        (select,) = [
            s for s in sent if _table(any_db) in s and re.search(r"\bmetaxy_provenance\b", _returned(s))
        ]
        assert "metaxy_feature_version" not in _returned(select)
    alone = any_db.read_metadata(g.video, history=True).select("metaxy_feature_version").collect()
    assert alone["metaxy_feature_version"].to_list() == [version] * 3  # read, to count the rows


def _returned(select: str) -> str:
    """What a statement returns: the text before its first FROM."""
    return select.split(" FROM ")[0]


def test_a_read_spanning_feature_versions_extracts_the_union_of_their_fields(
    any_db: mx.SQLAlchemyMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of two feature versions whose ``*_by_field`` structs have different fields read as JSON
    decoding reads them: the union of the fields, null where a row lacks one. A lazy read leaves out
    rows of a version the field lookup did not see (written in between); a read fetching every column
    at once (here: for a user struct column) decodes their JSON instead."""
    store = any_db
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    video_by_field = pl.Struct({"audio": pl.String, "frames": pl.String})
    with mx.FeatureGraph().use():  # the same key, another field: another feature version

        class Video(
            mx.Feature,
            spec=mx.FeatureSpec(
                key="video/raw",
                fields=[
                    mx.FieldSpec(key="audio", code_version="1"),
                    mx.FieldSpec(key="depth", code_version="1"),
                ],
            ),
        ):
            sample_uid: int

    rows = pl.DataFrame(
        {
            "sample_uid": [2],
            "path": ["v2.mp4"],
            "metaxy_provenance_by_field": [{"audio": "a2", "depth": "d2"}],
        },
        schema_overrides={"sample_uid": pl.Int64},
    )
    store.write_metadata(Video, rows)
    sent = arrow_reads(store)
    frame = store.read_metadata(Video, all_versions=True).collect().sort("sample_uid")
    assert any("depth" in s and "frames" in s for s in sent)  # both versions' fields are extracted
    by_field = frame["metaxy_provenance_by_field"]
    assert by_field.dtype == pl.Struct({"audio": pl.String, "depth": pl.String, "frames": pl.String})
    assert by_field.to_list() == [
        {"audio": "a1", "depth": None, "frames": "f1"},
        {"audio": "a2", "depth": "d2", "frames": None},
    ]
    first = frame["metaxy_feature_version"][0]
    with monkeypatch.context() as patch:  # the lookup ran before the second version was written
        patch.setattr("metaxy.stores.sqlalchemy.store.read_versions", lambda fetch, table: [first])
        earlier = store.read_metadata(Video, all_versions=True).collect()
        assert earlier["sample_uid"].to_list() == [1]
        assert earlier.schema["metaxy_provenance_by_field"] == video_by_field
        store.write_metadata(
            Video, rows.with_columns(sample_uid=pl.lit(3, pl.Int64), meta=pl.struct(k=pl.lit(1)))
        )
        every = store.read_metadata(Video, all_versions=True).collect().sort("sample_uid")
        assert every["sample_uid"].to_list() == [1, 2, 3]  # eager: decoded from JSON instead
        assert every["metaxy_provenance_by_field"].struct.field("depth").to_list() == [None, "d2", "d2"]
    frame = every
    store._by_field_structs = lambda *args: ({}, [])  # type: ignore[method-assign]  # whole JSON again
    assert store.read_metadata(Video, all_versions=True).collect().sort("sample_uid").equals(frame)

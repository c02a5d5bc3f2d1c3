"""What is specific to ClickHouse: table layout, cluster DDL text, schema evolution, quoting, isolation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import ReadOnlyStoreError, SchemaError, StoreBackendError
from metaxy.stores.clickhouse import connection as chconn
from metaxy.stores.clickhouse import schema as chsql
from tests.stores.graphs import video_graph, videos


@pytest.fixture
def ch(chdb_path: Path, request: pytest.FixtureRequest) -> Iterator[mx.ClickHouseMetadataStore]:
    database = "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    store = mx.ClickHouseMetadataStore(f"chdb://{chdb_path}", database=database)
    with store:
        yield store


def _column_types(store: mx.ClickHouseMetadataStore, table: str) -> dict[str, str]:
    rows = store.connection.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        {"db": store.database, "t": table},
    )
    return dict(zip(rows["name"].to_list(), rows["type"].to_list(), strict=True))


def test_tables_are_mergetree_ordered_by_ids_with_named_tuples(ch: mx.ClickHouseMetadataStore) -> None:
    g = video_graph()
    ch.write_metadata(g.video, videos([1, 2]))
    info = ch.connection.query(
        "SELECT engine, sorting_key FROM system.tables WHERE database = {db:String} AND name = 'video__raw'",
        {"db": ch.database},
    )
    assert info.row(0) == ("MergeTree", "(sample_uid)")
    types = _column_types(ch, "video__raw")
    assert types["metaxy_provenance_by_field"] == "Tuple(audio Nullable(String), frames Nullable(String))"
    assert types["sample_uid"] == "Int64"  # ids are never Nullable: they are the sorting key
    assert types["metaxy_updated_at"] == "Nullable(DateTime64(6, 'UTC'))"


def test_cluster_ddl_is_on_cluster_with_a_distributed_table() -> None:
    schema = pl.Schema({"sample_uid": pl.Int64, "metaxy_provenance_by_field": pl.Struct({"a": pl.String})})
    local, distributed = chsql.create_table("metaxy", "video__raw", schema, ["sample_uid"], "prod")
    assert local == (
        "CREATE TABLE IF NOT EXISTS `metaxy`.`video__raw_local` ON CLUSTER `prod` "
        "(`sample_uid` Int64, `metaxy_provenance_by_field` Tuple(`a` Nullable(String))) "
        "ENGINE = ReplicatedMergeTree ORDER BY (`sample_uid`)"
    )
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS `metaxy`.`video__raw` ON CLUSTER `prod` AS `metaxy`.`video__raw_local` "
        "ENGINE = Distributed(`prod`, `metaxy`, `video__raw_local`, rand())"
    )
    assert (
        chsql.create_database("metaxy", "prod") == "CREATE DATABASE IF NOT EXISTS `metaxy` ON CLUSTER `prod`"
    )
    assert chsql.storage_tables("video__raw", "prod") == ["video__raw_local", "video__raw"]


def test_no_cluster_means_one_plain_mergetree_table() -> None:
    (only,) = chsql.create_table("m", "t", pl.Schema({"id": pl.String}), ["id"], None)
    assert "ON CLUSTER" not in only
    assert "ENGINE = MergeTree ORDER BY (`id`)" in only


def test_identifiers_with_backquotes_are_escaped() -> None:
    assert chsql.quote("a`b\\c") == "`a\\`b\\\\c`"


def test_new_columns_are_added_and_old_rows_read_null(ch: mx.ClickHouseMetadataStore) -> None:
    g = video_graph()
    ch.write_metadata(g.video, videos([1]))
    ch.write_metadata(g.video, videos([2]).with_columns(fps=pl.lit(25)))
    out = ch.read_metadata(g.video).collect().sort("sample_uid")
    assert out["fps"].to_list() == [None, 25]


def test_changed_column_type_is_refused_and_nothing_is_written(ch: mx.ClickHouseMetadataStore) -> None:
    g = video_graph()
    ch.write_metadata(g.video, videos([1]))
    with pytest.raises(SchemaError, match="column 'path' is stored as String"):
        ch.write_metadata(g.video, videos([2]).with_columns(path=pl.lit(3)))
    assert ch.read_metadata(g.video, history=True).collect().height == 1


def test_new_feature_fields_widen_the_tuple(ch: mx.ClickHouseMetadataStore, graph: mx.FeatureGraph) -> None:
    g = video_graph()
    ch.write_metadata(g.video, videos([1]))
    old = g.video.feature_version()
    spec = g.video.spec()
    fields = (*spec.fields, mx.FieldSpec(key="subtitles"))
    graph.add_feature(spec.model_copy(update={"fields": fields}))
    rows = videos([2]).with_columns(
        metaxy_provenance_by_field=pl.struct(audio=pl.lit("a2"), frames=pl.lit("f2"), subtitles=pl.lit("s2"))
    )
    ch.write_metadata("video/raw", rows)
    assert ch.read_metadata("video/raw").collect()["metaxy_provenance_by_field"].to_list() == [
        {"audio": "a2", "frames": "f2", "subtitles": "s2"}
    ]
    old_rows = ch.read_metadata("video/raw", feature_version=old).collect()
    assert old_rows["metaxy_provenance_by_field"].to_list() == [
        {"audio": "a1", "frames": "f1", "subtitles": None}
    ]


def test_odd_column_names_round_trip_and_quotes_are_refused(ch: mx.ClickHouseMetadataStore) -> None:
    g = video_graph()
    ch.write_metadata(g.video, videos([1]).with_columns(pl.lit("x").alias("odd name; DROP TABLE x --")))
    assert ch.read_metadata(g.video).collect()["odd name; DROP TABLE x --"].to_list() == ["x"]
    with pytest.raises(SchemaError, match="cannot be stored in a SQL table"):
        ch.write_metadata(g.video, videos([2]).with_columns(pl.lit("x").alias("a`b")))


def test_databases_isolate_stores_sharing_the_embedded_directory(chdb_path: Path) -> None:
    g = video_graph()
    with (
        mx.ClickHouseMetadataStore(f"chdb://{chdb_path}", database="iso_a") as a,
        mx.ClickHouseMetadataStore(f"chdb://{chdb_path}", database="iso_b") as b,
    ):
        a.write_metadata(g.video, videos([1]))
        assert a.list_features() == [g.video.key()]
        assert b.list_features() == []
    with mx.ClickHouseMetadataStore(f"chdb://{chdb_path}", database="iso_a") as again:
        assert again.read_metadata(g.video).collect().height == 1  # data outlives the connection


def test_read_only_store_refuses_writes(chdb_path: Path) -> None:
    store = mx.ClickHouseMetadataStore(f"chdb://{chdb_path}", database="ro", read_only=True)
    with store, pytest.raises(ReadOnlyStoreError):
        store.write_metadata(video_graph().video, videos([1]))


@pytest.fixture
def sent(ch: mx.ClickHouseMetadataStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every query the store sends to ClickHouse (the real connection still runs each one)."""
    statements: list[str] = []
    real = ch.connection.query

    def recording(sql: str, params: dict[str, object] | None = None) -> pl.DataFrame:
        statements.append(sql)
        return real(sql, params)

    monkeypatch.setattr(ch.connection, "query", recording)
    return statements


class _RecordingChdb:
    """The store's real chdb connection, recording each statement it runs; ``refuse`` names statements
    it fails instead, as a chdb would that lacks what they need."""

    def __init__(self, real: object, refuse: str | None = None) -> None:
        self.real, self.refuse, self.statements = real, refuse, list[str]()

    def query(self, sql: str, *args: object, **kwargs: object) -> object:
        self.statements.append(sql)
        if sql == self.refuse:
            raise RuntimeError(f"Code: 1. DB::Exception: {sql} is not supported here. (SUPPORT_IS_DISABLED)")
        return self.real.query(sql, *args, **kwargs)  # type: ignore[attr-defined]


_PURGE = "SYSTEM JEMALLOC PURGE"


def test_a_large_write_gives_chdbs_freed_memory_back_at_once(
    ch: mx.ClickHouseMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = video_graph()
    recording = _RecordingChdb(ch.connection._conn)  # type: ignore[attr-defined]
    monkeypatch.setattr(ch.connection, "_conn", recording)
    monkeypatch.setattr(chconn.ChdbConnection, "purges", True)
    monkeypatch.setattr(chconn, "PURGE_AFTER_BYTES", 10**12)
    ch.write_metadata(g.video, videos([1, 2]))
    assert _PURGE not in recording.statements  # a small write: the allocator gives its pages back itself
    monkeypatch.setattr(chconn, "PURGE_AFTER_BYTES", 1)
    ch.write_metadata(g.video, videos([3]))
    assert recording.statements[-1] == _PURGE  # right after the insert
    assert chconn.ChdbConnection.purges  # the chdb this suite installs has jemalloc and purges
    assert ch.read_metadata(g.video).collect()["sample_uid"].sort().to_list() == [1, 2, 3]


def test_a_chdb_that_cannot_purge_writes_all_the_same_and_stops_asking(
    ch: mx.ClickHouseMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = video_graph()
    refusing = _RecordingChdb(ch.connection._conn, refuse=_PURGE)  # type: ignore[attr-defined]
    monkeypatch.setattr(ch.connection, "_conn", refusing)
    monkeypatch.setattr(chconn.ChdbConnection, "purges", True)
    monkeypatch.setattr(chconn, "PURGE_AFTER_BYTES", 1)
    ch.write_metadata(g.video, videos([1]))
    ch.write_metadata(g.video, videos([2]))
    assert refusing.statements.count(_PURGE) == 1
    assert not chconn.ChdbConnection.purges
    assert ch.read_metadata(g.video).collect()["sample_uid"].sort().to_list() == [1, 2]


def test_filters_run_in_clickhouse(ch: mx.ClickHouseMetadataStore, sent: list[str]) -> None:
    g = video_graph()
    ch.write_metadata(g.video, videos([1, 2, 3]))
    sent.clear()
    out = ch.read_metadata(g.video, filters=pl.col("path").str.starts_with("v2")).collect()
    assert out["sample_uid"].to_list() == [2]
    (select,) = [s for s in sent if "ROW_NUMBER()" in s.upper()]
    assert re.search(r'startsWith\("path", \{p\d+: String\}\)', select)  # bound, not SQL text


def test_native_resolution_hashes_in_clickhouse(ch: mx.ClickHouseMetadataStore, sent: list[str]) -> None:
    g = video_graph()
    ch.write_metadata(g.video, videos([1, 2]))
    assert ch.supports_native_versioning()  # xxhash32, the default
    native = ch.resolve_update(g.transcript)
    assert any("XXHASH32(" in s.upper() for s in sent)
    with mx.InMemoryMetadataStore() as memory:
        memory.write_metadata(g.video, ch.read_metadata(g.video).collect())
        reference = memory.resolve_update(g.transcript)
    columns = ["sample_uid", "metaxy_provenance_by_field", "metaxy_provenance"]
    assert (
        native.new.select(columns).sort("sample_uid").equals(reference.new.select(columns).sort("sample_uid"))
    )


def test_hard_delete_by_filter_is_a_clickhouse_mutation(ch: mx.ClickHouseMetadataStore) -> None:
    g = video_graph()
    ch.write_metadata(g.video, videos([1, 2, 3]))
    assert ch.delete_metadata(g.video, filters=pl.col("sample_uid").is_in([1, 3]), soft=False) == 2
    assert ch.read_metadata(g.video).collect()["sample_uid"].to_list() == [2]


def test_a_rejected_insert_leaves_no_rows(ch: mx.ClickHouseMetadataStore) -> None:
    g = video_graph()
    ch.write_metadata(g.video, videos([1]))
    # a real server-side failure: ClickHouse rejects the whole insert block when one row breaks a constraint
    ch.connection.command(
        f"ALTER TABLE {ch.database}.video__raw ADD CONSTRAINT no_bad CHECK path != 'v9.mp4'"
    )
    with pytest.raises(StoreBackendError, match="no_bad"):
        ch.write_metadata(g.video, videos([2, 3, 9]))
    assert ch.read_metadata(g.video, history=True).collect()["sample_uid"].to_list() == [1]


def test_a_first_write_dying_after_create_table_leaves_no_listed_feature(
    ch: mx.ClickHouseMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ClickHouse has no transactional DDL: a first write killed between CREATE TABLE and INSERT leaves
    an empty table. It holds no feature, so ``list_features`` agrees with ``has_feature`` and a write works."""
    g = video_graph()

    insert = ch.connection.insert

    def die(database: str, table: str, df: pl.DataFrame) -> None:
        if table == "video__raw":  # the feature's rows, not its table claim
            raise KeyboardInterrupt  # the process stops between CREATE TABLE and INSERT
        insert(database, table, df)

    monkeypatch.setattr(ch.connection, "insert", die)
    with pytest.raises(KeyboardInterrupt):
        ch.write_metadata(g.video, videos([1, 2]))
    monkeypatch.undo()
    assert _column_types(ch, "video__raw")  # the dead write's empty table is there
    assert ch.list_features() == []
    assert not ch.has_feature(g.video)
    ch.write_metadata(g.video, videos([1, 2]))
    assert ch.list_features() == [g.video.spec().key]
    assert ch.has_feature(g.video)


def test_keys_with_dashes_list_back_exactly(ch: mx.ClickHouseMetadataStore, graph: mx.FeatureGraph) -> None:
    graph.add_feature(mx.FeatureSpec(key="my-team/raw-video", fields=[mx.FieldSpec(key="default")]))
    rows = pl.DataFrame({"sample_uid": [1], "metaxy_provenance_by_field": [{"default": "x"}]})
    ch.write_metadata("my-team/raw-video", rows)
    assert ch.list_features() == [mx.FeatureKey("my-team/raw-video")]


def test_a_second_embedded_directory_is_a_clear_error(ch: mx.ClickHouseMetadataStore, tmp_path: Path) -> None:
    other = mx.ClickHouseMetadataStore(f"chdb://{tmp_path / 'other'}")
    with pytest.raises(StoreBackendError, match="one data directory per process"):
        other.open()


def test_a_chdb_store_exists_once_its_database_does(chdb_path: Path, request: pytest.FixtureRequest) -> None:
    store = mx.ClickHouseMetadataStore(f"chdb://{chdb_path}", database=f"e_{request.node.name[-20:]}")
    assert not store.exists()  # the shared data directory exists; this store's database does not
    with store:
        store.write_metadata(video_graph().video, videos([1]))
    assert store.exists()
    assert not mx.ClickHouseMetadataStore(f"chdb://{chdb_path}/elsewhere", database="x").exists()

"""What is specific to DuckDB: files and read-only mode, schema evolution, atomic appends, quoting,
and proof that filters and resolutions run inside DuckDB."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlglot.expressions as exp

import metaxy as mx
from metaxy.constants import PROVENANCE_BY_FIELD
from metaxy.exceptions import (
    InvalidFilterError,
    LocalFilterWarning,
    PolarsFallbackWarning,
    ReadOnlyStoreError,
    SchemaError,
    StoreBackendError,
    VersioningError,
)
from tests.stores.graphs import video_graph, videos


class Spy:
    """Records every query a store sends to DuckDB and how many rows came back (DuckDB still runs it)."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, int]] = []
        original = store._fetch

        def fetch(query: exp.Expr) -> pl.DataFrame:
            rows = original(query)
            self.calls.append((store.render(query), rows.height))
            return rows

        monkeypatch.setattr(store, "_fetch", fetch)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "meta.duckdb"


@pytest.fixture
def store(db: Path) -> Iterator[Any]:
    with mx.DuckDBMetadataStore(db) as opened:
        yield opened


def test_data_persists_in_the_file_and_tables_follow_the_naming_rule(db: Path) -> None:
    g = video_graph()
    with mx.DuckDBMetadataStore(db, table_prefix="mx_") as store:
        store.write_metadata(g.video, videos([1, 2]))
        assert store.table_name(g.video.key()) == "mx_video__raw"
    with mx.DuckDBMetadataStore(db, table_prefix="mx_") as store:
        assert store.list_features() == [g.video.key()]
        assert store.read_metadata(g.video).collect().height == 2


def test_memory_database_survives_close_and_reopen() -> None:
    g = video_graph()
    store = mx.DuckDBMetadataStore(":memory:")
    with store:
        store.write_metadata(g.video, videos([1]))
    with store:
        assert store.read_metadata(g.video).collect().height == 1


def test_read_only_store_refuses_writes_before_touching_the_file(db: Path) -> None:
    g = video_graph()
    with mx.DuckDBMetadataStore(db) as store:
        store.write_metadata(g.video, videos([1]))
    before = db.read_bytes()
    with mx.DuckDBMetadataStore(db, read_only=True) as reader:
        assert reader.read_metadata(g.video).collect().height == 1
        with pytest.raises(ReadOnlyStoreError, match="read-only"):
            reader.write_metadata(g.video, videos([2]))
        with pytest.raises(ReadOnlyStoreError):
            reader.delete_metadata(g.video, soft=False)
    assert db.read_bytes() == before


def test_read_only_open_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreBackendError, match="does not exist"):
        mx.DuckDBMetadataStore(tmp_path / "nope.duckdb", read_only=True).open()


READER = """
import sys, metaxy as mx
from tests.stores.graphs import video_graph
g = video_graph()
with mx.DuckDBMetadataStore(sys.argv[1], read_only=True) as store:
    print(store.read_metadata(g.video).collect().height)
"""


def test_several_processes_read_while_none_writes(db: Path, tmp_path: Path) -> None:
    g = video_graph()
    with mx.DuckDBMetadataStore(db) as store:
        store.write_metadata(g.video, videos([1, 2, 3]))
    root = Path(__file__).parents[3]
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(db)], cwd=root, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=60)[0].strip() for r in readers]
    assert outputs == ["3", "3"]
    with mx.DuckDBMetadataStore(db, read_only=True) as a, mx.DuckDBMetadataStore(db, read_only=True) as b:
        assert a.read_metadata(g.video).collect().height == b.read_metadata(g.video).collect().height == 3


def test_new_columns_are_added_and_old_rows_read_as_null(store: Any) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    store.write_metadata(g.video, videos([2]).with_columns(fps=pl.lit(25)))
    out = store.read_metadata(g.video).collect().sort("sample_uid")
    assert out["fps"].to_list() == [None, 25]


def test_changed_dtype_is_refused_and_the_table_is_unchanged(store: Any) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    with pytest.raises(SchemaError, match="'path' is stored as String"):
        store.write_metadata(g.video, videos([2]).with_columns(path=pl.lit(3)))
    out = store.read_metadata(g.video, history=True).collect()
    assert out["sample_uid"].to_list() == [1]
    assert out.schema["path"] == pl.String


def test_a_feature_gaining_a_field_widens_the_stored_struct(store: Any, graph: mx.FeatureGraph) -> None:
    graph.add_feature(mx.FeatureSpec(key="root", fields=[mx.FieldSpec(key="a")]))
    one = pl.DataFrame({"sample_uid": [1], "metaxy_provenance_by_field": [{"a": "x"}]})
    store.write_metadata("root", one)
    graph.add_feature(mx.FeatureSpec(key="root", fields=[mx.FieldSpec(key="a"), mx.FieldSpec(key="b")]))
    two = pl.DataFrame({"sample_uid": [1], "metaxy_provenance_by_field": [{"a": "x", "b": "y"}]})
    store.write_metadata("root", two)
    out = store.read_metadata("root").collect()
    assert out["metaxy_provenance_by_field"].to_list() == [{"a": "x", "b": "y"}]
    history = store.read_metadata("root", history=True).collect().sort("metaxy_updated_at")
    assert history["metaxy_provenance_by_field"].to_list() == [{"a": "x", "b": None}, {"a": "x", "b": "y"}]


def test_an_exception_mid_write_leaves_nothing_visible(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    original = store._evolve_and_insert

    def insert_then_fail(*args: Any) -> None:
        original(*args)  # rows and the new column are in the transaction...
        raise RuntimeError("killed mid-write")  # ...when the write dies

    monkeypatch.setattr(store, "_evolve_and_insert", insert_then_fail)
    with pytest.raises(RuntimeError, match="killed"):
        store.write_metadata(g.video, videos([2, 3]).with_columns(extra=pl.lit(1)))
    monkeypatch.undo()
    out = store.read_metadata(g.video, history=True).collect()
    assert out["sample_uid"].to_list() == [1]
    assert "extra" not in out.columns


def test_hostile_column_names_are_quoted(store: Any, graph: mx.FeatureGraph) -> None:
    nasty = 'x"; DROP TABLE "root"; --'
    graph.add_feature(mx.FeatureSpec(key="root", fields=[mx.FieldSpec(key="a")]))
    frame = pl.DataFrame(
        {"sample_uid": [1, 2], nasty: ["it's", "ok"], "metaxy_provenance_by_field": [{"a": "x"}] * 2}
    )
    store.write_metadata("root", frame)
    out = store.read_metadata("root", filters=pl.col(nasty) == "it's").collect()
    assert out["sample_uid"].to_list() == [1]
    assert store.list_features() == [mx.FeatureKey("root")]


def test_filters_run_inside_duckdb(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos(list(range(20))))
    spy = Spy(store, monkeypatch)
    out = store.read_metadata(g.video, filters=pl.col("sample_uid").is_in([3, 4])).collect()
    assert out.height == 2
    sql, fetched = spy.calls[-1]
    assert re.search(r'"sample_uid" IN \(\$p\d+, \$p\d+\)', sql)  # values are bound, not in the text
    assert fetched == 2  # DuckDB returned only the matching rows


def test_unsupported_filters_run_locally_with_a_warning(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos(list(range(10))))
    spy = Spy(store, monkeypatch)
    with pytest.warns(LocalFilterWarning, match="run locally"):
        out = store.read_metadata(
            g.video, filters=(pl.col("sample_uid") < 5) & pl.col("path").str.contains("v[34]")
        ).collect()
    assert sorted(out["sample_uid"]) == [3, 4]
    assert spy.calls[-1][1] == 5  # the pushable half still ran in DuckDB


def test_native_resolution_is_one_query(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = video_graph()
    with mx.DuckDBMetadataStore(db, hash_algorithm="md5", versioning_engine="native") as store:
        store.write_metadata(g.video, videos([1, 2, 3]))
        spy = Spy(store, monkeypatch)
        inc = store.resolve_update(g.transcript, filters=pl.col("sample_uid") >= 2)
        assert sorted(inc.new["sample_uid"]) == [2, 3]
        resolutions = [sql for sql, _ in spy.calls if sql.startswith("WITH")]
        assert len(resolutions) == 1
        assert "MD5(" in resolutions[0]
        assert re.search(r'\("sample_uid" >= \$p\d+\)', resolutions[0])


def test_native_engine_refuses_upstream_that_lives_in_a_fallback(db: Path) -> None:
    g = video_graph()
    upstream = mx.InMemoryMetadataStore(hash_algorithm="md5")
    with upstream:
        upstream.write_metadata(g.video, videos([1, 2]))
    native = mx.DuckDBMetadataStore(
        db, hash_algorithm="md5", versioning_engine="native", fallback_stores=[upstream]
    )
    with native, pytest.raises(VersioningError, match="upstream video/raw lives in a fallback"):
        native.resolve_update(g.transcript)
    auto = mx.DuckDBMetadataStore(db, hash_algorithm="md5", fallback_stores=[upstream])
    with auto, pytest.warns(PolarsFallbackWarning, match="video/raw read from a fallback"):
        assert sorted(auto.resolve_update(g.transcript).new["sample_uid"]) == [1, 2]


def test_an_optional_upstream_stored_nowhere_still_resolves_natively(db: Path) -> None:
    graph = mx.FeatureGraph()
    with graph.use():

        class Left(mx.Feature, spec=mx.FeatureSpec(key="left", fields=[mx.FieldSpec(key="v")])):
            pass

        class Right(mx.Feature, spec=mx.FeatureSpec(key="right", fields=[mx.FieldSpec(key="v")])):
            pass

        class Both(
            mx.Feature,
            spec=mx.FeatureSpec(
                key="both",
                deps=[
                    mx.FeatureDep(feature=Left, optional=True),
                    mx.FeatureDep(feature=Right, optional=True),
                ],
                fields=[mx.FieldSpec(key="v")],
            ),
        ):
            pass

        rows = pl.DataFrame({"sample_uid": [1, 2], PROVENANCE_BY_FIELD: [{"v": "a"}, {"v": "b"}]})
        with mx.DuckDBMetadataStore(db, hash_algorithm="md5", versioning_engine="native") as store:
            store.write_metadata(Left, rows)  # Right is stored nowhere
            assert sorted(store.resolve_update(Both).new["sample_uid"]) == [1, 2]


def test_xxhash_on_duckdb_is_computed_with_polars(store: Any) -> None:
    assert not store.supports_native_versioning()
    with pytest.raises(mx.MetaxyError, match="cannot compute xxhash32 natively"):
        mx.DuckDBMetadataStore(":memory:", versioning_engine="native")


def test_a_reader_process_is_refused_clearly_while_a_writer_holds_the_file(db: Path) -> None:
    g = video_graph()
    root = Path(__file__).parents[3]
    with mx.DuckDBMetadataStore(db) as writer:
        writer.write_metadata(g.video, videos([1]))
        reader = subprocess.run(
            [sys.executable, "-c", READER, str(db)], cwd=root, capture_output=True, text=True, timeout=60
        )
    assert reader.returncode != 0
    assert "StoreBackendError" in reader.stderr
    assert "held by another process" in reader.stderr


def test_a_filter_on_an_unknown_column_is_refused_before_any_sql(store: Any) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1]))
    with pytest.raises(InvalidFilterError, match="nope"):
        store.read_metadata(g.video, filters=pl.col("nope") == 1)


def test_latest_reads_fetch_the_other_columns_of_the_picked_rows_only(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = video_graph()
    ids = list(range(100))
    store.write_metadata(g.video, videos(ids, audio="old"))
    store.write_metadata(g.video, videos(ids, audio="new"))  # a full rewrite: the latest rows are one range
    spy = Spy(store, monkeypatch)
    rows = store.read_metadata(g.video).collect().sort("sample_uid")
    assert rows["metaxy_provenance_by_field"].struct.field("audio").to_list() == [f"new{i}" for i in ids]
    heavy = [(sql, n) for sql, n in spy.calls if '"rows"."metaxy_provenance_by_field"' in sql]
    light = [(sql, n) for sql, n in spy.calls if sql.startswith('SELECT "rows"."__mx_row_number"')]
    assert [n for _, n in light] == [200]  # ids and timestamps of the whole history
    assert len(heavy) == 1
    assert heavy[0][0].endswith("BETWEEN 100 AND 199")
    assert heavy[0][1] == 100  # the first write's 100 rows were never fetched


def test_a_history_of_one_row_per_id_is_read_once(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos(list(range(100))))  # as many rows as ids from 0 to 99
    spy = Spy(store, monkeypatch)
    rows = store.read_metadata(g.video).collect()
    assert rows["sample_uid"].sort().to_list() == list(range(100))
    reads = [(sql, n) for sql, n in spy.calls if n == 100]
    assert len(reads) == 1  # ids, timestamps and the other columns at once
    assert '"rows"."metaxy_provenance_by_field"' in reads[0][0]
    assert not any(sql.startswith('SELECT "rows"."__mx_row_number"') for sql, _ in spy.calls)  # no pick first


def test_a_history_looking_like_one_row_per_id_still_picks_the_latest(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids 0, 1, 3 and 5, a rewrite of 1 and a tombstone for 3: six rows for the six integers from 0
    to 5, as if each id occurred once, so the history is read once, whole; ids 1 and 3 occur twice
    in it, so the latest rows are then picked from ids and timestamps as in any history."""
    g = video_graph()
    store.write_metadata(g.video, videos([0, 1, 3, 5], audio="old"))
    store.write_metadata(g.video, videos([1], audio="new"))
    store.delete_metadata(g.video, filters=pl.col("sample_uid") == 3)
    spy = Spy(store, monkeypatch)
    rows = store.read_metadata(g.video).collect().sort("sample_uid")
    reads = [(sql, n) for sql, n in spy.calls if n > 1]
    assert [n for _, n in reads] == [6, 6, 3]  # the whole history, its ids and timestamps, the picked rows
    assert '"rows"."metaxy_provenance_by_field"' in reads[0][0]
    assert reads[1][0].startswith('SELECT "rows"."__mx_row_number"')
    assert rows["sample_uid"].to_list() == [0, 1, 5]
    assert rows["metaxy_provenance_by_field"].struct.field("audio").to_list() == ["old0", "new1", "old5"]


def test_latest_rows_scattered_over_many_ranges_are_kept_by_row_number(store: Any) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos(list(range(300)), audio="old"))
    store.write_metadata(g.video, videos(list(range(0, 300, 2)), audio="new"))  # 150 runs of one row
    store.delete_metadata(g.video, filters=pl.col("sample_uid") == 1)  # a tombstone: the id is gone
    rows = store.read_metadata(g.video).collect().sort("sample_uid")
    audio = rows["metaxy_provenance_by_field"].struct.field("audio").to_list()
    expected = [f"new{i}" if i % 2 == 0 else f"old{i}" for i in range(300) if i != 1]
    assert rows["sample_uid"].to_list() == [i for i in range(300) if i != 1]
    assert audio == expected


def _string_compressions(db: Path) -> set[str]:
    """The compressions DuckDB chose for the stored ``video__raw`` table's string segments."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('video__raw') WHERE segment_type = 'VARCHAR'"
        ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize(("compress", "expected"), [(False, {"Uncompressed"}), (True, {"FSST", "DICT_FSST"})])
def test_string_compression_is_on_unless_switched_off(db: Path, compress: bool, expected: set[str]) -> None:
    g = video_graph()
    n = 20_000  # random version strings, enough for DuckDB to compress full segments
    rows = videos(list(range(n))).with_columns(
        pl.struct(
            audio=pl.format("a{}", pl.int_range(n).hash(1) % 1_000_003),
            frames=pl.format("f{}", pl.int_range(n).hash(2) % 1_000_003),
        ).alias(PROVENANCE_BY_FIELD)
    )
    with mx.DuckDBMetadataStore(db, compress_strings=compress) as store:
        store.write_metadata(g.video, rows)
    found = _string_compressions(db)
    assert found & expected
    assert found <= expected | {"Constant", "Uncompressed"}
    with mx.DuckDBMetadataStore(db) as store:  # read back the same either way
        back = store.read_metadata(g.video).collect().sort("sample_uid")
    assert back.select(rows.columns).equals(rows)

"""Stores attaching their files to the DuckDB instance the process keeps (metaxy/stores/_duckdb_instances.py).

That another process may open a file once its last store here closed is tested in test_file_lock.py.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from pathlib import Path

import pytest

import metaxy as mx
from metaxy.exceptions import StoreBackendError
from tests.stores.graphs import video_graph, videos


def _ids(store: mx.DuckDBMetadataStore) -> list[int]:
    return sorted(store.read_metadata(video_graph().video).collect()["sample_uid"])


def test_stores_of_two_files_open_at_once_each_see_their_own_tables(tmp_path: Path) -> None:
    g = video_graph()
    a, b, empty = (mx.DuckDBMetadataStore(tmp_path / f"{name}.duckdb") for name in "abc")
    with a, b, empty:
        a.write_metadata(g.video, videos([1]))
        b.write_metadata(g.video, videos([2, 3]))
        assert (_ids(a), _ids(b)) == ([1], [2, 3])
        assert a.list_features() == b.list_features() == [g.video.spec().key]
        assert empty.list_features() == []


def test_a_store_reopened_many_times_reads_what_it_wrote(tmp_path: Path) -> None:
    store = mx.DuckDBMetadataStore(tmp_path / "a.duckdb")
    for i in range(5):
        with store:
            store.write_metadata(video_graph().video, videos([i]))
    with mx.DuckDBMetadataStore(tmp_path / "a.duckdb", read_only=True) as reader:
        assert _ids(reader) == [0, 1, 2, 3, 4]


def test_a_reader_shares_a_writer_s_file_but_a_writer_cannot_join_readers(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with mx.DuckDBMetadataStore(db) as writer, mx.DuckDBMetadataStore(db, read_only=True) as reader:
        writer.write_metadata(video_graph().video, videos([1]))
        assert _ids(reader) == [1]
    with mx.DuckDBMetadataStore(db, read_only=True):
        with pytest.raises(StoreBackendError, match="has it open read-only") as refused:
            mx.DuckDBMetadataStore(db).open()
        assert "once per process" in (refused.value.hint or "")
    with mx.DuckDBMetadataStore(db) as writer:  # the readers are gone: writing works again
        writer.write_metadata(video_graph().video, videos([2]))
        assert _ids(writer) == [1, 2]


def test_one_file_cannot_be_open_with_two_compressions_at_once(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with mx.DuckDBMetadataStore(db) as compressed:
        compressed.write_metadata(video_graph().video, videos([1]))
        with pytest.raises(StoreBackendError, match="other DuckDB settings"):
            mx.DuckDBMetadataStore(db, compress_strings=False).open()
        assert _ids(compressed) == [1]  # the refusal took nothing from the open store
    with mx.DuckDBMetadataStore(db, compress_strings=False) as plain:
        assert _ids(plain) == [1]


def test_the_process_instance_spills_to_temp_and_gives_freed_memory_back(tmp_path: Path) -> None:
    with mx.DuckDBMetadataStore(tmp_path / "a.duckdb") as store:
        folder, purging = store._con.execute(
            "SELECT current_setting('temp_directory'), current_setting('allocator_background_threads')"
        ).fetchone()
    assert Path(folder).parent == Path(tempfile.gettempdir())  # not .tmp in the working directory
    assert purging is True  # otherwise DuckDB's allocator keeps what it freed until the instance closes


def _child_reads(db: str) -> None:
    with mx.DuckDBMetadataStore(db) as store:  # DuckDB only: Polars' threads do not survive a fork
        assert store._con.execute('SELECT count(*) FROM "video__raw"').fetchone() == (1,)
        files = store._con.execute("SELECT path FROM duckdb_databases() WHERE path IS NOT NULL").fetchall()
        assert files == [(db,)]  # not the parent's instance, which has another file attached


def test_a_forked_child_attaches_files_to_an_instance_of_its_own(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with mx.DuckDBMetadataStore(db) as store:
        store.write_metadata(video_graph().video, videos([1]))
    with mx.DuckDBMetadataStore(tmp_path / "other.duckdb"):  # attached to the parent's instance
        child = multiprocessing.get_context("fork").Process(target=_child_reads, args=(str(db),))
        child.start()
        child.join(timeout=60)
    assert child.exitcode == 0
    with mx.DuckDBMetadataStore(db) as store:  # the child gave the file back
        assert _ids(store) == [1]

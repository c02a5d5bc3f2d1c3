"""The lock file a DuckDB store holds while open (metaxy/stores/_file_lock.py).

Processes taking turns on one file losing nothing is probed by tests/stores/test_concurrency.py; here,
who may open the file when, inside one process and across processes.
"""

from __future__ import annotations

import fcntl
import gc
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

import metaxy as mx
from metaxy.exceptions import StoreBackendError
from metaxy.stores import _file_lock as file_lock
from tests.stores.graphs import video_graph, videos

ROOT = Path(__file__).parents[3]
WRITER = """
import sys, metaxy as mx
from tests.stores.graphs import video_graph, videos
g = video_graph()
with mx.DuckDBMetadataStore(sys.argv[1]) as store:
    store.write_metadata(g.video, videos([int(sys.argv[2])]))
"""


def _other_process_writes(db: Path, sample: int) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", WRITER, str(db), str(sample)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _stored_ids(db: Path) -> list[int]:
    with mx.DuckDBMetadataStore(db, read_only=True) as store:
        return sorted(store.read_metadata(video_graph().video).collect()["sample_uid"])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "meta.duckdb"


def test_another_process_is_refused_transiently_until_the_writer_closes(db: Path) -> None:
    with mx.DuckDBMetadataStore(db) as store:
        store.write_metadata(video_graph().video, videos([1]))
        refused = _other_process_writes(db, 2)
        assert Path(file_lock.lock_path(str(db))).is_file()
    assert refused.returncode != 0
    assert "StoreBackendError" in refused.stderr
    assert "held by another process: its lock file" in refused.stderr
    assert _other_process_writes(db, 2).returncode == 0
    assert _stored_ids(db) == [1, 2]


def test_stores_of_one_process_share_the_file_and_the_last_close_frees_it(db: Path) -> None:
    first, second = mx.DuckDBMetadataStore(db), mx.DuckDBMetadataStore(db)
    with first:
        with second:
            second.write_metadata(video_graph().video, videos([1]))
        assert _other_process_writes(db, 2).returncode != 0  # the first store still has it
    assert _other_process_writes(db, 2).returncode == 0
    assert _stored_ids(db) == [1, 2]


def test_a_store_dropped_unclosed_gives_the_file_back_once_collected(db: Path) -> None:
    store = mx.DuckDBMetadataStore(db).open()
    store.write_metadata(video_graph().video, videos([1]))
    assert _other_process_writes(db, 2).returncode != 0  # still open
    collected = weakref.ref(store)
    del store
    gc.collect()
    assert collected() is None
    assert _other_process_writes(db, 2).returncode == 0  # neither the lock nor DuckDB's file is held
    assert _stored_ids(db) == [1, 2]  # and what it wrote was checkpointed


def test_read_only_stores_share_the_lock_and_exclude_a_writer(db: Path) -> None:
    with mx.DuckDBMetadataStore(db) as store:
        store.write_metadata(video_graph().video, videos([1]))
    path = file_lock.lock_path(str(db))
    with open(path, encoding="utf-8") as other:  # another open file: flock treats it as another holder
        fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)
        with mx.DuckDBMetadataStore(db, read_only=True) as reader:
            assert reader.read_metadata(video_graph().video).collect().height == 1
        with pytest.raises(file_lock.HeldElsewhere):
            file_lock.hold(str(db), shared=False)


def test_a_held_lock_refuses_with_a_transient_error_naming_the_file(db: Path) -> None:
    with open(file_lock.lock_path(str(db)), "a", encoding="utf-8") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(StoreBackendError, match="metaxy-lock is taken") as caught:
            mx.DuckDBMetadataStore(db).open()
        assert caught.value.transient
    assert not db.exists()  # refused before DuckDB created anything


def test_a_lock_file_that_cannot_be_created_leaves_duckdb_in_charge(db: Path) -> None:
    Path(file_lock.lock_path(str(db))).mkdir()  # what opening cannot create, as in a read-only directory
    with mx.DuckDBMetadataStore(db) as store:
        store.write_metadata(video_graph().video, videos([1]))
        refused = _other_process_writes(db, 2)
    assert "held by another process" in refused.stderr  # DuckDB's own lock, said the same way
    assert "lock file" not in refused.stderr
    assert _stored_ids(db) == [1]


def test_a_failed_connect_gives_the_lock_back(db: Path) -> None:
    db.write_text("not a database")
    with pytest.raises(StoreBackendError, match="not a DuckDB database"):
        mx.DuckDBMetadataStore(db).open()
    assert file_lock.hold(str(db), shared=False) is not None  # nobody kept it
    file_lock.release(file_lock.lock_path(str(db)))


class _UnconfigurableStore(mx.DuckDBMetadataStore):
    """Fault injection: a setting the installed DuckDB refuses (ours are accepted by every supported one)."""

    def _settings(self) -> dict[str, str]:
        return {**super()._settings(), "metaxy_no_such_setting": "1"}


def test_an_instance_that_cannot_be_configured_gives_the_file_back(db: Path) -> None:
    with pytest.raises(StoreBackendError, match="metaxy_no_such_setting"):
        _UnconfigurableStore(db).open()
    assert _other_process_writes(db, 2).returncode == 0  # neither the lock nor DuckDB's file is held
    assert _stored_ids(db) == [2]

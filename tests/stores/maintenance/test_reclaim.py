"""After ``prune`` removes rows, each backend's space-reclaiming step runs (store-specific checks)."""

from __future__ import annotations

from pathlib import Path

import pytest

import metaxy as mx
from tests.stores.graphs import video_graph, videos


def _rewritten(store: mx.MetadataStore) -> type[mx.Feature]:
    g = video_graph()
    for audio in ("a", "b", "c"):
        store.write_metadata(g.video, videos([1, 2, 3], audio=audio))
    return g.video


def test_delta_prune_compacts_and_vacuums_unused_files(tmp_path: Path) -> None:
    pytest.importorskip("deltalake")
    with mx.DeltaMetadataStore(tmp_path / "delta") as store:
        video = _rewritten(store)
        folder = Path(store.table_path(video.spec().key))
        assert len(list(folder.glob("*.parquet"))) == 3  # one file per append
        report = store.prune(video)
        assert (report.pruned, report.reclaimed) == (6, True)
        table = store._table(video.spec().key)
        assert len(list(folder.glob("*.parquet"))) == len(table.file_uris()) == 1  # old files vacuumed
        assert store.read_metadata(video).collect().height == 3


def test_duckdb_prune_checkpoints_a_file_database(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    with mx.DuckDBMetadataStore(tmp_path / "m.duckdb") as store:
        assert store.prune(_rewritten(store)).reclaimed
    with mx.DuckDBMetadataStore(":memory:") as store:
        assert not store.prune(_rewritten(store)).reclaimed  # nothing on disk to give back


def test_clickhouse_prune_merges_parts(chdb_path: Path) -> None:
    with mx.ClickHouseMetadataStore(f"chdb://{chdb_path}", database="reclaim_test") as store:
        video = _rewritten(store)
        assert store.prune(video).reclaimed
        parts = store.connection.query(
            "SELECT count() AS n FROM system.parts WHERE database = 'reclaim_test' AND table = 'video__raw' "
            "AND active"
        )
        assert parts["n"][0] == 1
        assert store.read_metadata(video, history=True).collect().height == 3

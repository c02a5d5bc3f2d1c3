"""``store.sql(query)``: the same query gives the same rows on every store; writes are refused."""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import QueryError
from tests.stores.graphs import video_graph, videos


def _seed(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    store.write_metadata(g.video, videos([3], audio="b"))  # sample 3 written twice: history holds both
    store.write_metadata(
        g.transcript, store.resolve_update(g.transcript).new.filter(pl.col("sample_uid") < 3)
    )


def test_same_query_gives_the_same_rows_on_every_store(store: mx.MetadataStore) -> None:
    _seed(store)
    latest = store.sql(
        "SELECT v.sample_uid, v.path, v.metaxy_provenance_by_field.audio AS audio, t.sample_uid IS NOT NULL AS done "
        "FROM video__raw v LEFT JOIN video__transcript t USING (sample_uid) ORDER BY v.sample_uid"
    )
    assert latest.to_dicts() == [
        {"sample_uid": 1, "path": "v1.mp4", "audio": "a1", "done": True},
        {"sample_uid": 2, "path": "v2.mp4", "audio": "a2", "done": True},
        {"sample_uid": 3, "path": "v3.mp4", "audio": "b3", "done": False},
    ]
    history = store.sql(
        "SELECT sample_uid, count(*) AS n FROM history.video__raw GROUP BY sample_uid ORDER BY sample_uid"
    )
    assert history.rows() == [(1, 1), (2, 1), (3, 2)]


def test_soft_deleted_samples_leave_the_latest_view_but_stay_in_history(store: mx.MetadataStore) -> None:
    _seed(store)
    store.delete_metadata(video_graph().video, filters=pl.col("sample_uid") == 2)
    assert store.sql("SELECT sample_uid FROM video__raw ORDER BY 1").rows() == [(1,), (3,)]
    assert store.sql("SELECT count(DISTINCT sample_uid) FROM history.video__raw").item() == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DELETE FROM video__raw", "refuses a DELETE statement"),
        ("INSERT INTO video__raw SELECT * FROM video__raw", "refuses a INSERT statement"),
        ("DROP TABLE video__raw", "refuses a DROP statement"),
        ("COPY video__raw TO 'out.csv'", "refuses a COPY statement"),
        ("SELECT 1; DELETE FROM video__raw", "exactly one statement; got 2"),
        ("SELECT * FROM read_csv('/etc/hostname')", "file system operations are disabled"),
        ("SET enable_external_access = true", "refuses a SET statement"),
        ("SELECT * FROM video__nope", "Table with name video__nope does not exist"),
        ("SELECT * FROM video__faces", "nothing is stored for feature 'video/faces'"),
        ("SELEC 1", "does not parse"),
    ],
)
def test_writes_files_and_unknown_tables_are_refused(query: str, message: str) -> None:
    with mx.InMemoryMetadataStore() as store:
        _seed(store)
        with pytest.raises(QueryError, match="Hint:") as info:
            store.sql(query)
        assert message in info.value.message
        assert store.sql("SELECT count(*) FROM history.video__raw").item() == 4  # nothing changed

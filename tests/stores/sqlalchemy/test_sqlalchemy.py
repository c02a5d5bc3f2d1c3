"""What is specific to the SQLAlchemy store: JSONB / JSON layout, transactions, evolution, quoting."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

import metaxy as mx
from metaxy.exceptions import ReadOnlyStoreError, SchemaError
from tests.stores.graphs import video_graph, videos


@pytest.fixture
def pg(postgres_url: str) -> Iterator[mx.SQLAlchemyMetadataStore]:
    with mx.SQLAlchemyMetadataStore(postgres_url, table_prefix=f"p{uuid.uuid4().hex[:10]}_") as store:
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
    assert raw == '{"audio": "a1", "frames": "f1"}'


def test_an_interrupted_write_leaves_no_rows(pg: mx.SQLAlchemyMetadataStore) -> None:
    g = video_graph()
    pg.write_metadata(g.video, videos([1]))
    with pg.engine.begin() as conn:  # a real database-side failure on the last row of the next write
        conn.execute(sa.text(f"ALTER TABLE \"{_table(pg)}\" ADD CONSTRAINT no_bad CHECK (path <> 'v9.mp4')"))
    with pytest.raises(sa.exc.IntegrityError):
        pg.write_metadata(g.video, videos([2, 3, 9]))
    assert pg.read_metadata(g.video, history=True).collect()["sample_uid"].to_list() == [1]


def test_new_columns_are_added_and_changed_types_refused(pg: mx.SQLAlchemyMetadataStore) -> None:
    g = video_graph()
    pg.write_metadata(g.video, videos([1]))
    pg.write_metadata(g.video, videos([2]).with_columns(fps=pl.lit(25)))
    assert pg.read_metadata(g.video).collect().sort("sample_uid")["fps"].to_list() == [None, 25]
    with pytest.raises(SchemaError, match="column 'path' is stored as text"):
        pg.write_metadata(g.video, videos([3]).with_columns(path=pl.lit(3)))
    assert pg.read_metadata(g.video, history=True).collect().height == 2


def test_hostile_names_are_quoted_or_refused(tmp_path: Path) -> None:
    g = video_graph()
    with mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'q.db'}", table_prefix="x; drop ") as store:
        odd = "odd name; DROP TABLE metaxy --"
        store.write_metadata(g.video, videos([1]).with_columns(pl.lit("y").alias(odd)))
        assert store.read_metadata(g.video).collect()[odd].to_list() == ["y"]
        with pytest.raises(SchemaError, match="cannot be stored in a SQL table"):
            store.write_metadata(g.video, videos([2]).with_columns(pl.lit("y").alias('a"b')))
        assert store.list_features() == [g.video.key()]


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    store = mx.SQLAlchemyMetadataStore(f"sqlite:///{tmp_path / 'r.db'}", read_only=True)
    with store, pytest.raises(ReadOnlyStoreError):
        store.write_metadata(video_graph().video, videos([1]))


def test_latest_row_per_id_is_chosen_in_sql(pg: mx.SQLAlchemyMetadataStore) -> None:
    g = video_graph()
    pg.write_metadata(g.video, videos([1]))
    table = pg._table(g.video.key())
    assert table is not None
    query = pg._latest_query(table, ["sample_uid"], "fv", latest=True, include_deleted=False)
    text = str(query.compile(dialect=pg.engine.dialect))
    assert "row_number() OVER (PARTITION BY" in text
    assert "metaxy_deleted_at IS NULL" in text
    assert "%(fv)s" in text  # the version is bound, never formatted

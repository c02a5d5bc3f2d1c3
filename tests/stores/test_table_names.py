"""Two feature keys never share a SQL table: the graph and the store both refuse a colliding key."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import InvalidKeyError, TableNameCollisionError
from tests.stores.conftest import StoreFactory

COLLIDING = [("x/a-b", "x/a_b"), (["a_", "b"], ["a", "_b"])]


def _feature(key: object, graph: mx.FeatureGraph) -> type[mx.Feature]:
    with graph.use():

        class Root(mx.Feature, spec=mx.FeatureSpec(key=key, id_columns=["sid"])):  # type: ignore[arg-type]
            pass

    return Root


def _rows(ids: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"sid": ids}).with_columns(
        pl.struct(pl.lit("p").alias("default")).alias("metaxy_provenance_by_field")
    )


@pytest.mark.parametrize(("first", "second"), COLLIDING, ids=["dash-underscore", "part-boundary"])
def test_a_graph_refuses_two_keys_with_one_table_name(first: object, second: object) -> None:
    graph = mx.FeatureGraph()
    _feature(first, graph)
    with pytest.raises(InvalidKeyError, match="same SQL table name"):
        _feature(second, graph)


@pytest.mark.parametrize(("first", "second"), COLLIDING, ids=["dash-underscore", "part-boundary"])
def test_a_store_shared_by_two_projects_refuses_the_second_colliding_key(
    store_factory: StoreFactory, first: object, second: object
) -> None:
    """Project A writes ``first``; project B (its own graph) writes, reads or deletes ``second``."""
    a, b = _feature(first, mx.FeatureGraph()), _feature(second, mx.FeatureGraph())
    with store_factory() as store:
        store.write_metadata(a, _rows([1, 2]))
        if not _shares_tables(store, a, b):
            store.write_metadata(b, _rows([3]))  # stores with one place per key keep them apart
            assert store.read_metadata(a).collect()["sid"].sort().to_list() == [1, 2]
            assert store.read_metadata(b).collect()["sid"].to_list() == [3]
            assert set(store.list_features()) == {a.spec().key, b.spec().key}
            return
        with pytest.raises(TableNameCollisionError) as info:
            store.write_metadata(b, _rows([3]))
        message = str(info.value)
        assert a.spec().key.to_string() in message
        assert b.spec().key.to_string() in message
        for refused in (
            lambda: store.delete_metadata(b, soft=False),
            lambda: store.read_metadata(b, all_versions=True),
        ):
            with pytest.raises(TableNameCollisionError):
                refused()
        assert store.read_metadata(a).collect()["sid"].sort().to_list() == [1, 2]
        assert [k.to_string() for k in store.list_features()] == [a.spec().key.to_string()]


def test_a_table_claim_is_seen_by_another_store_object_on_the_same_database(tmp_path: Path) -> None:
    a, b = _feature("x/a-b", mx.FeatureGraph()), _feature("x/a_b", mx.FeatureGraph())
    with mx.DuckDBMetadataStore(tmp_path / "shared.duckdb") as first:
        first.write_metadata(a, _rows([1]))
    with (
        mx.DuckDBMetadataStore(tmp_path / "shared.duckdb") as second,
        pytest.raises(TableNameCollisionError, match="'x/a-b'"),
    ):
        second.write_metadata(b, _rows([2]))


def _shares_tables(store: mx.MetadataStore, a: type[mx.Feature], b: type[mx.Feature]) -> bool:
    inner = store
    while hasattr(inner, "inner"):
        inner = inner.inner
    # where a key's rows live: a path (Delta, Spark) or a table name (SQL stores, Iceberg)
    place = getattr(inner, "table_path", None) or getattr(inner, "table_name", None)
    return callable(place) and place(a.spec().key) == place(b.spec().key)


SQL_KINDS = ["sqlalchemy", "postgres", "duckdb", "clickhouse"]


@pytest.mark.parametrize("store_factory", SQL_KINDS, indirect=True)
def test_a_claim_left_without_rows_lists_nothing_and_says_how_to_free_the_table(
    store_factory: StoreFactory,
) -> None:
    """A first write of ``a`` killed after claiming its table (claims commit before rows): nothing is
    listed, ``a`` can write again, a colliding ``b`` is told the table holds none of ``a``'s rows, and a
    hard delete of ``a`` frees the table."""
    a, b = _feature("x/a-b", mx.FeatureGraph()), _feature("x/a_b", mx.FeatureGraph())
    with store_factory() as store:
        store._claims.check(a.spec().key, claim=True)  # type: ignore[attr-defined]
        assert store.list_features() == []
        assert not store.has_feature(a)
        with pytest.raises(TableNameCollisionError, match="holds none of its rows") as info:
            store.write_metadata(b, _rows([3]))
        assert "delete_metadata('x/a-b', soft=False)" in str(info.value)
        store.delete_metadata(a, soft=False)  # from a's project: frees the table
        store.write_metadata(b, _rows([3]))
        assert store.list_features() == [b.spec().key]
        with pytest.raises(TableNameCollisionError, match="already holds feature 'x/a_b'"):
            store.write_metadata(a, _rows([1]))

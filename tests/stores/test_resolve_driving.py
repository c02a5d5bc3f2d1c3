"""How ``resolve_update`` drives the engine: ``lazy=True`` runs nothing, each upstream is probed once."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import sqlglot.expressions as exp
from polars.testing import assert_frame_equal

import metaxy as mx
from metaxy.models.keys import FeatureKey
from tests.stores.graphs import video_graph, videos


def test_lazy_native_resolution_runs_its_query_only_when_collected(tmp_path: Path) -> None:
    g = video_graph()
    with mx.DuckDBMetadataStore(
        tmp_path / "m.duckdb", hash_algorithm="md5", versioning_engine="native"
    ) as store:
        store.write_metadata(g.video, videos([1, 2]))
        increment = store.resolve_update(g.transcript, lazy=True)
        assert isinstance(increment.new, pl.LazyFrame)
        store.write_metadata(g.video, videos([3]))  # written after resolving, before collecting
        assert sorted(increment.collect().new["sample_uid"]) == [1, 2, 3]


class CountingStore(mx.DuckDBMetadataStore):
    """A native DuckDB store that counts how often each feature is probed for stored rows."""

    probes: dict[FeatureKey, int]

    def _holds(self, key: FeatureKey, feature_version: str | None) -> bool:
        self.probes[key] = self.probes.get(key, 0) + 1
        return super()._holds(key, feature_version)


def test_each_upstream_is_probed_once_per_native_resolution(tmp_path: Path) -> None:
    g = video_graph()
    with CountingStore(tmp_path / "m.duckdb", hash_algorithm="md5") as store:
        store.write_metadata(g.video, videos([1, 2]))
        store.probes = {}
        assert store.resolve_update(g.transcript).new.height == 2
        assert store.probes == {g.video.spec().key: 1}


class StatementLog(mx.SQLAlchemyMetadataStore):
    """A SQLite store that keeps the SQL of every query it fetches."""

    statements: list[str] = []

    def _fetch(self, query: exp.Expr) -> pl.DataFrame:
        self.statements = [*self.statements, self.render(query).replace("`", '"')]  # one quoting
        return super()._fetch(query)


def _upstream_reads(store: StatementLog, feature: type[mx.Feature]) -> list[str]:
    """What the statements reading ``feature``'s rows return (the text before the first FROM: a lazy
    read's subquery names every column), without probes, the schema query of a lazy read and the
    aggregate over its ids."""
    table = f'"{store.table_name(feature.spec().key)}"'
    skipped = ("LIMIT 1", "LIMIT 0", 'AS "n_rows"')
    reads = [s for s in store.statements if table in s and not any(x in s for x in skipped)]
    return [s.split(" FROM ")[0] for s in reads]


@pytest.mark.parametrize("user_struct", [False, True], ids=["lazy", "eager"])
def test_a_sql_store_leaves_out_upstream_columns_versioning_never_reads(
    tmp_path: Path, user_struct: bool
) -> None:
    """SQLite reads lazily (only what the plan uses), or, with a user struct column (JSON whose fields
    are not known before the rows), eagerly without the system columns versioning never reads."""
    g = video_graph()
    rows = videos([1, 2, 3])
    if user_struct:
        rows = rows.with_columns(meta=pl.struct(k=pl.col("path")))
    with StatementLog(f"sqlite:///{tmp_path / 'm.db'}") as store, mx.InMemoryMetadataStore() as memory:
        for target in (store, memory):
            target.write_metadata(g.video, rows)
        store.statements = []
        got = store.resolve_update(g.transcript).new
        expected = memory.resolve_update(g.transcript).new
    reads = _upstream_reads(store, g.video)
    assert reads, store.statements
    assert any("LIMIT 0" in s for s in store.statements) is not user_struct  # a lazy read's schema query
    for unread in ('"metaxy_provenance_by_field"', '"metaxy_created_at"', '"metaxy_materialization_id"'):
        assert not any(unread in sql for sql in reads), (unread, reads)
    assert all('"metaxy_data_version_by_field"' in sql and '"path"' in sql for sql in reads)
    columns = ["sample_uid", "path", "metaxy_provenance", "metaxy_provenance_by_field"]
    assert_frame_equal(got.select(columns).sort("sample_uid"), expected.select(columns).sort("sample_uid"))


def test_a_system_column_named_by_a_dependency_filter_is_still_read(tmp_path: Path) -> None:
    g = video_graph()

    class Recent(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="video/recent",
            deps=[mx.FeatureDep(feature=g.video, filters=[pl.col("metaxy_created_at").is_not_null()])],
            fields=[mx.FieldSpec(key="clip", code_version="1")],
        ),
    ):
        pass

    with StatementLog(f"sqlite:///{tmp_path / 'm.db'}") as store:
        store.write_metadata(g.video, videos([1, 2]))
        store.statements = []
        assert sorted(store.resolve_update(Recent).new["sample_uid"]) == [1, 2]
    assert any('"metaxy_created_at"' in sql for sql in _upstream_reads(store, g.video))


class ColumnLookups(mx.DuckDBMetadataStore):
    """A DuckDB store that counts its catalog lookups (one round trip each) per table."""

    lookups: dict[str, int] = {}

    def _table_columns(self, key: FeatureKey) -> list[str] | None:
        self.lookups = {**self.lookups, key.to_string(): self.lookups.get(key.to_string(), 0) + 1}
        return super()._table_columns(key)


def test_a_resolution_looks_each_table_up_once(tmp_path: Path) -> None:
    g = video_graph()
    with ColumnLookups(tmp_path / "m.duckdb") as store:
        store.write_metadata(g.video, videos([1, 2]))
        store.lookups = {}
        assert store.resolve_update(g.transcript).new.height == 2
        # the upstream was looked up by its probe, the id bounds and the read; the leaf (no table
        # yet) by the id bounds and the read of its stored rows
        assert {"video/raw", "video/transcript"} <= set(store.lookups)
        assert set(store.lookups.values()) == {1}, store.lookups


def test_a_table_created_after_a_resolution_is_seen_by_the_next(tmp_path: Path) -> None:
    """The lookups are kept for one resolution only: another store's write in between is seen."""
    g = video_graph()
    path = tmp_path / "m.duckdb"
    with mx.DuckDBMetadataStore(path) as reader, mx.DuckDBMetadataStore(path) as writer:
        writer.write_metadata(g.video, videos([1, 2]))
        first = reader.resolve_update(g.transcript)
        assert first.new.height == 2
        writer.write_metadata(g.transcript, first.new)  # the leaf's table is created now
        writer.write_metadata(g.video, videos([3]))
        later = reader.resolve_update(g.transcript)
    assert later.new["sample_uid"].to_list() == [3]
    assert later.stale.height == 0

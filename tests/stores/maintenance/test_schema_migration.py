"""``store.migrate_schema`` on every store: user columns change, history, system columns and versions do not."""

from __future__ import annotations

import json

import polars as pl
import pytest

import metaxy as mx
from metaxy.constants import SYSTEM_COLUMNS
from metaxy.exceptions import FeatureNotFoundError, SchemaError, SchemaMigrationError
from tests.stores.graphs import video_graph, videos


def _sized(ids: list[int], **options: str) -> pl.DataFrame:
    return videos(ids, **options).with_columns(
        size=pl.Series([i * 10 for i in ids], dtype=pl.Int64), code=pl.Series([f"{i}" for i in ids])
    )


def _system(store: mx.MetadataStore, feature: type[mx.Feature]) -> pl.DataFrame:
    """Every stored row's ids and system columns, in a stable order."""
    rows = store.read_metadata(feature, history=True).collect()
    return rows.select("sample_uid", *SYSTEM_COLUMNS).sort("sample_uid", "metaxy_updated_at")


def _written(store: mx.MetadataStore) -> mx.MetadataStore:
    g = video_graph()
    store.write_metadata(g.video, _sized([1, 2, 3]))
    store.write_metadata(g.video, _sized([2], audio="b"))
    store.delete_metadata(g.video, filters=pl.col("sample_uid") == 3)
    store.write_metadata(g.transcript, store.resolve_update(g.transcript).new)
    return store


def test_migration_keeps_history_system_columns_and_versions(store: mx.MetadataStore) -> None:
    g = video_graph()
    _written(store)
    system = _system(store, g.video)
    migration = mx.SchemaMigration(
        add={"lang": pl.String, "score": pl.Float64},
        defaults={"lang": "en"},
        rename={"path": "uri"},
        cast={"size": pl.Float64, "code": pl.Int64},
    )

    dry = store.migrate_schema(g.video, migration, dry_run=True)
    assert (dry.dry_run, dry.rows, dry.migration_id) == (True, 5, None)
    assert (dry.after["uri"], dry.after["size"], "path" in dry.after) == ("String", "Float64", False)
    assert "path" in store.read_metadata(g.video).collect().columns  # a dry run writes nothing
    assert store.schema_migrations().height == 0

    report = store.migrate_schema(g.video, migration, applied_by="ops@example.com")
    assert report.rows == 5
    assert report.migration_id is not None
    history = store.read_metadata(g.video, history=True).collect().sort("sample_uid", "metaxy_updated_at")
    assert history.height == 5  # history and the tombstone kept
    assert _system(store, g.video).equals(system)  # versions, timestamps, tombstones: untouched
    assert history["uri"].to_list() == ["v1.mp4", "v2.mp4", "v2.mp4", "v3.mp4", "v3.mp4"]
    assert history["lang"].to_list() == ["en"] * 5
    assert history["score"].null_count() == 5
    assert history.schema["size"] == pl.Float64
    assert history["size"].to_list()[:2] == [10.0, 20.0]
    assert history["code"].to_list()[0] == 1
    increment = store.resolve_update(g.transcript)  # downstream provenance did not change
    assert (increment.new.height, increment.stale.height) == (0, 0)

    log = store.schema_migrations(g.video)
    assert log.height == 1
    entry = log.row(0, named=True)
    assert (entry["migration_id"], entry["applied_by"], entry["rows"]) == (
        report.migration_id,
        "ops@example.com",
        5,
    )
    assert json.loads(entry["operations"])["rename"] == {"path": "uri"}


def test_drop_then_writes_follow_the_append_schema_rule(store: mx.MetadataStore) -> None:
    g = video_graph()
    _written(store)
    store.migrate_schema(g.video, mx.SchemaMigration(drop=["code"], cast={"size": pl.Float64}))
    assert "code" not in store.read_metadata(g.video).collect().columns
    # the migrated schema is the stored one: a dropped column comes back as a new one (older rows
    # read null), and an integer no longer widens into the column cast to Float64
    store.write_metadata(g.video, videos([4]).with_columns(code=pl.lit("4"), size=pl.lit(4.5)))
    rows = store.read_metadata(g.video).collect().sort("sample_uid")
    assert rows["code"].to_list() == [None, None, "4"]
    with pytest.raises(SchemaError, match="'size'"):
        store.write_metadata(g.video, videos([5]).with_columns(size=pl.lit(5, dtype=pl.Int64)))


BAD_MIGRATIONS = [
    (mx.SchemaMigration(drop=["nope"]), "cannot drop column 'nope': it is not stored"),
    (mx.SchemaMigration(rename={"path": "size"}), "column 'size' already exists"),
    (mx.SchemaMigration(drop=["sample_uid"]), "cannot drop 'sample_uid': it is an id column"),
    (mx.SchemaMigration(cast={"metaxy_provenance": pl.Int64}), "it is a system column"),
    (mx.SchemaMigration(cast={"size": pl.Int8}), r"would change 2 stored value\(s\); the first is 200 "),
    (mx.SchemaMigration(cast={"path": pl.Int64}), "the first is 'v1.mp4'"),
    (mx.SchemaMigration(add={"n": pl.Int64}, defaults={"n": "x"}), "the default 'x' of added column 'n'"),
    (mx.SchemaMigration(), "has no operation"),
]


def test_bad_migrations_are_refused_before_anything_changes(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, _sized([1, 20, 30]))
    before = store.read_metadata(g.video, history=True).collect().sort("sample_uid")
    for migration, message in BAD_MIGRATIONS:
        for dry_run in (True, False):
            with pytest.raises(SchemaMigrationError, match=message):
                store.migrate_schema(g.video, migration, dry_run=dry_run)
    assert store.read_metadata(g.video, history=True).collect().sort("sample_uid").equals(before)
    assert store.schema_migrations().height == 0


@pytest.mark.parametrize(
    ("migration", "message"),
    [
        (mx.SchemaMigration(rename={"path": "metaxy_path"}), "is reserved for metaxy's system columns"),
        (mx.SchemaMigration(add={"path": pl.String}), "column 'path' already exists"),
        (mx.SchemaMigration(rename={"path": "a", "size": "a"}), "named twice by the migration"),
        (mx.SchemaMigration(drop=["size"], cast={"size": pl.Float64}), "is dropped and also renamed or cast"),
        (mx.SchemaMigration(defaults={"size": 1}), "defaults= names 'size', which add= does not add"),
        (mx.SchemaMigration(rename={"metaxy_updated_at": "t"}), "it is a system column"),
        (
            mx.SchemaMigration(cast={"code": pl.Int64}),
            r"the first is '007' \(row of sample_uid=7\), which would become 7",
        ),
    ],
)
def test_more_bad_migrations(migration: mx.SchemaMigration, message: str) -> None:
    g = video_graph()
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(g.video, _sized([1, 7]).with_columns(code=pl.Series(["1", "007"])))
        with pytest.raises(SchemaMigrationError, match=message):
            store.migrate_schema(g.video, migration)


def test_migrating_a_feature_with_no_rows_is_an_error(store: mx.MetadataStore) -> None:
    g = video_graph()
    with pytest.raises(FeatureNotFoundError, match="nothing is stored"):
        store.migrate_schema(g.video, mx.SchemaMigration(drop=["path"]))

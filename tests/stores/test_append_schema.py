"""The append-schema rule (``metaxy.stores.schema_rule``), run on every store by the ``store`` fixture."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import SchemaError
from tests.stores.graphs import video_graph, videos


def _feature() -> type[mx.Feature]:
    class Sample(mx.Feature, spec=mx.FeatureSpec(key="rule/sample", fields=[mx.FieldSpec(key="default")])):
        pass

    return Sample


def _rows(ids: list[Any], **columns: pl.Series) -> pl.DataFrame:
    frame = pl.DataFrame({"sample_uid": ids}).with_columns(
        pl.struct(default=pl.lit("p")).alias("metaxy_provenance_by_field")
    )
    return frame.with_columns(s.alias(name) for name, s in columns.items())


def _read(store: mx.MetadataStore, feature: type[mx.Feature]) -> pl.DataFrame:
    return store.read_metadata(feature).collect().sort("sample_uid")


def test_a_wider_integer_widens_the_stored_column(store: mx.MetadataStore) -> None:
    f = _feature()
    store.write_metadata(f, _rows([1], v=pl.Series([2**31 - 1], dtype=pl.Int32)))
    store.write_metadata(f, _rows([2], v=pl.Series([2**40], dtype=pl.Int64)))
    out = _read(store, f)
    assert out.schema["v"] == pl.Int64
    assert out["v"].to_list() == [2**31 - 1, 2**40]


def test_a_narrower_integer_is_cast_up_to_the_stored_type(store: mx.MetadataStore) -> None:
    f = _feature()
    store.write_metadata(f, _rows([1], v=pl.Series([2**40], dtype=pl.Int64)))
    store.write_metadata(f, _rows([2], v=pl.Series([-3], dtype=pl.Int8)))
    out = _read(store, f)
    assert out.schema["v"] == pl.Int64
    assert out["v"].to_list() == [2**40, -3]


def test_unsigned_and_signed_meet_in_a_wider_signed_integer(store: mx.MetadataStore) -> None:
    f = _feature()
    store.write_metadata(f, _rows([1], v=pl.Series([255], dtype=pl.UInt8)))
    store.write_metadata(f, _rows([2], v=pl.Series([-128], dtype=pl.Int8)))
    out = _read(store, f)
    assert out.schema["v"].is_signed_integer()
    assert out["v"].to_list() == [255, -128]


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (pl.Series([1.5], dtype=pl.Float64), pl.Series([2], dtype=pl.Int64)),
        (pl.Series(["a"], dtype=pl.String), pl.Series([2], dtype=pl.Int64)),
        (pl.Series([2], dtype=pl.Int64), pl.Series(["a"], dtype=pl.String)),
        (pl.Series([2], dtype=pl.Int64), pl.Series([2.5], dtype=pl.Float64)),
        (pl.Series([True]), pl.Series([1], dtype=pl.Int64)),
        (
            pl.Series([dt.datetime(2024, 1, 1)], dtype=pl.Datetime("us", "UTC")),
            pl.Series([dt.datetime(2024, 1, 1)], dtype=pl.Datetime("us")),
        ),
    ],
    ids=[
        "float-then-int",
        "str-then-int",
        "int-then-str",
        "int-then-float",
        "bool-then-int",
        "tz-then-naive",
    ],
)
def test_a_changed_type_is_refused_naming_column_and_both_types(
    store: mx.MetadataStore, first: pl.Series, then: pl.Series
) -> None:
    f = _feature()
    store.write_metadata(f, _rows([1], v=first))
    with pytest.raises(SchemaError, match=r"column 'v' is stored as .* but the written frame has") as info:
        store.write_metadata(f, _rows([2], v=then))
    assert str(then.dtype).split("(")[0] in str(info.value)
    assert "Hint:" in str(info.value)
    assert _read(store, f)["sample_uid"].to_list() == [1]  # nothing of the refused write landed


def test_an_id_of_another_type_is_refused_not_coerced(store: mx.MetadataStore) -> None:
    f = _feature()
    store.write_metadata(f, _rows([1]))
    with pytest.raises(SchemaError, match="'sample_uid' is stored as"):
        store.write_metadata(f, _rows(["1"]))
    assert _read(store, f)["sample_uid"].to_list() == [1]


def test_new_columns_are_null_for_older_rows_and_left_out_columns_null_for_new_rows(
    store: mx.MetadataStore,
) -> None:
    f = _feature()
    store.write_metadata(f, _rows([1], a=pl.Series(["x"])))
    store.write_metadata(f, _rows([2], b=pl.Series([7], dtype=pl.Int64)))
    out = _read(store, f)
    assert out["a"].to_list() == ["x", None]
    assert out["b"].to_list() == [None, 7]


def test_an_all_null_column_is_stored_as_strings_and_then_takes_strings(store: mx.MetadataStore) -> None:
    f = _feature()
    store.write_metadata(f, _rows([1], v=pl.Series([None], dtype=pl.Null)))
    store.write_metadata(f, _rows([2], v=pl.Series(["x"])))
    out = _read(store, f)
    assert out.schema["v"] == pl.String
    assert out["v"].to_list() == [None, "x"]


def test_python_objects_are_refused_before_anything_is_written(store: mx.MetadataStore) -> None:
    f = _feature()
    with pytest.raises(SchemaError, match="'v' has type Object"):
        store.write_metadata(f, _rows([1], v=pl.Series([object()], dtype=pl.Object)))
    assert not store.has_feature(f)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("metaxy_feature_version", pl.Series([7]), "'metaxy_feature_version' is Int64, expected String"),
        ("metaxy_created_at", pl.Series(["yesterday"]), "'metaxy_created_at' is String, expected Datetime"),
        ("metaxy_provenance", pl.Series([None], dtype=pl.String), "'metaxy_provenance' has 1 null"),
        ("metaxy_deleted_at", pl.Series([1.0]), "'metaxy_deleted_at' is Float64"),
    ],
)
def test_system_columns_given_by_the_user_are_validated(
    store: mx.MetadataStore, column: str, value: pl.Series, message: str
) -> None:
    f = _feature()
    with pytest.raises(SchemaError, match=message):
        store.write_metadata(f, _rows([1], **{column: value}))
    assert not store.has_feature(f)


def test_column_names_a_backend_would_rename_or_truncate_are_refused(store: mx.MetadataStore) -> None:
    f = _feature()
    with pytest.raises(SchemaError, match="column name '' cannot be stored"):
        store.write_metadata(f, _rows([1], **{"": pl.Series([1])}))
    long = "x" * 64
    error: SchemaError | None = None
    try:
        store.write_metadata(f, _rows([1], **{long: pl.Series([1])}))
    except SchemaError as exc:  # a store with a name limit says so, with the limit
        error = exc
    if error is None:
        assert _read(store, f)[long].to_list() == [1]
    else:
        assert "is 64 bytes; this store keeps at most 63 bytes" in str(error)
        assert not store.has_feature(f)


def test_an_all_soft_deleted_upstream_reads_with_its_full_schema(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    written = store.read_metadata(g.video).collect().schema
    store.delete_metadata(g.video)
    out = store.read_metadata(g.video).collect()
    assert out.height == 0
    assert out.schema == written
    increment = store.resolve_update(g.transcript)
    assert increment.new.height == 0
    assert increment.stale.height == 0

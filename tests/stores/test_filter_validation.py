"""Filters are checked before any query runs, on every store: what they are, and which columns they name."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import DefinitionError, InvalidFilterError, LegacyAPIError
from tests.stores.graphs import video_graph, videos


def test_a_misspelled_column_in_a_hard_delete_deletes_nothing(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    with pytest.raises(InvalidFilterError, match="'pth'") as info:
        store.delete_metadata(g.video, filters=[pl.col("pth").is_not_null()], soft=False)
    assert "video/raw" in str(info.value)
    assert "path" in str(info.value)
    assert store.read_metadata(g.video, history=True).collect().height == 3


def test_a_misspelled_column_in_a_soft_delete_deletes_nothing(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    with pytest.raises(InvalidFilterError, match="'pth'"):
        store.delete_metadata(g.video, filters=pl.col("pth") == "v1.mp4")
    assert store.read_metadata(g.video).collect().height == 2


def test_a_misspelled_column_in_a_read_names_the_column(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    with pytest.raises(InvalidFilterError, match="'sample_id'"):
        store.read_metadata(g.video, filters=pl.col("sample_id") == 1)


def test_a_misspelled_column_in_a_resolve_names_the_column(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    with pytest.raises(InvalidFilterError, match="'sample_id'"):
        store.resolve_update(g.transcript, filters=pl.col("sample_id") == 1)


@pytest.mark.parametrize(
    ("filters", "says"),
    [
        ("sample_uid = 1", "pl.sql_expr"),
        (True, "bool"),
        (1, "int"),
        (pl.Series([True, False]), "Series"),
        ({"sample_uid": 1}, "filters="),
        (["sample_uid = 1"], "pl.sql_expr"),
    ],
    ids=["str", "bool", "int", "series", "mapping", "list-of-str"],
)
def test_filters_that_are_not_expressions_are_refused(
    store: mx.MetadataStore, filters: Any, says: str
) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    for call in (
        lambda: store.read_metadata(g.video, filters=filters),
        lambda: store.delete_metadata(g.video, filters=filters, soft=False),
        lambda: store.resolve_update(g.transcript, filters=filters),
    ):
        with pytest.raises((InvalidFilterError, LegacyAPIError), match=says):  # a mapping is 0.1.x API
            call()
    assert store.read_metadata(g.video).collect().height == 2


@pytest.mark.parametrize("filters", ["duration > 1", ["duration > 1"]], ids=["str", "list"])
def test_a_dependency_filter_written_as_sql_text_is_a_definition_error(filters: Any) -> None:
    with pytest.raises(DefinitionError, match=r"pl\.sql_expr\('duration > 1'\)"):
        mx.FeatureDep(feature="video/raw", filters=filters)


def test_a_dependency_filter_survives_its_serialized_form() -> None:
    dep = mx.FeatureDep(feature="video/raw", filters=[pl.col("duration") > 1])
    again = mx.FeatureDep.model_validate(dep.model_dump())
    assert [str(f) for f in again.filters] == [str(f) for f in dep.filters]


def test_a_misspelled_column_on_a_feature_written_empty_is_refused(store: mx.MetadataStore) -> None:
    """A feature materialized with zero rows checks filters like one with rows (read, delete, resolve)."""
    g = video_graph()
    store.write_metadata(g.video, videos([1]).clear())
    for call in (
        lambda: store.read_metadata(g.video, filters=pl.col("pth") == "v1.mp4"),
        lambda: store.delete_metadata(g.video, filters=pl.col("pth") == "v1.mp4", soft=False),
        lambda: store.resolve_update(g.transcript, filters=pl.col("pth") == "v1.mp4"),
    ):
        with pytest.raises(InvalidFilterError, match="'pth'"):
            call()
    # the columns the feature does have still filter
    assert store.read_metadata(g.video, filters=pl.col("path") == "v1.mp4").collect().height == 0
    assert store.resolve_update(g.transcript, filters=pl.col("path") == "v1.mp4").is_empty

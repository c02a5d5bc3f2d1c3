"""``normalize_stored`` bridges layouts of other metaxy versions; tables already in ours pass unchanged."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from metaxy.stores._layout import normalize_stored


def test_a_table_in_our_layout_is_returned_untouched() -> None:
    lf = pl.LazyFrame({"sample_uid": [1]})
    assert normalize_stored(lf) is lf


def test_missing_system_columns_are_derived_and_timestamps_unified() -> None:
    older = pl.LazyFrame(
        {
            "sample_uid": [1],
            "metaxy_provenance_by_field": [{"a": "x"}],
            "metaxy_provenance": ["p"],
            "metaxy_updated_at": [datetime(2025, 1, 2, 3, 4, 5)],  # naive, nanoseconds
        },
        schema_overrides={"metaxy_updated_at": pl.Datetime("ns")},
    )
    out = normalize_stored(older).collect()
    assert out.schema["metaxy_updated_at"] == pl.Datetime("us", "UTC")
    assert out["metaxy_created_at"].to_list() == out["metaxy_updated_at"].to_list()
    assert out["metaxy_data_version_by_field"].to_list() == [{"a": "x"}]
    assert out["metaxy_data_version"].to_list() == ["p"]
    assert out["metaxy_deleted_at"].to_list() == [None]
    assert out.schema["metaxy_deleted_at"] == pl.Datetime("us", "UTC")
    assert out["metaxy_materialization_id"].to_list() == [None]

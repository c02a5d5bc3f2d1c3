"""``enable_logging=True``: one structured line per public store call, through the standard ``logging`` module."""

from __future__ import annotations

import logging

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import ConfigError, SchemaError
from metaxy.testing import ExampleFeatures, example_videos, materialize_example


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "metaxy.stores"]


def test_each_public_call_logs_one_line_with_feature_rows_size_duration(
    caplog: pytest.LogCaptureFixture, example_features: ExampleFeatures
) -> None:
    caplog.set_level(logging.INFO, logger="metaxy.stores")
    with mx.InMemoryMetadataStore(name="logged", enable_logging=True) as store:
        store.write_metadata(example_features.video, example_videos())
        store.read_metadata(example_features.video, filters=pl.col("sample_uid") > 1)
        store.resolve_update(example_features.transcript)  # reads upstream internally: still one line
        store.delete_metadata(example_features.video, filters=pl.col("sample_uid") == 1)
    lines = [r.getMessage() for r in _records(caplog)]
    assert [line.split()[0] for line in lines] == ["write", "read", "resolve", "delete"]
    write = _records(caplog)[0]
    assert write.levelno == logging.INFO
    assert "store=logged feature=example/video rows=3 size=" in write.getMessage()
    assert "duration=" in write.getMessage()
    assert write.metaxy["rows"] == 3  # type: ignore[attr-defined]
    assert write.metaxy["bytes"] == example_videos().estimated_size()  # type: ignore[attr-defined]
    assert "filters=applied" in lines[1]
    assert "new=3 stale=0 orphaned=0" in lines[2]
    assert "rows=1 soft=True" in lines[3]


def test_logging_is_off_by_default_and_respects_the_level(
    caplog: pytest.LogCaptureFixture, example_features: ExampleFeatures
) -> None:
    caplog.set_level(logging.INFO, logger="metaxy.stores")
    with mx.InMemoryMetadataStore() as quiet:
        materialize_example(quiet, example_features)
    with mx.InMemoryMetadataStore(enable_logging=True, log_level="DEBUG") as below_threshold:
        below_threshold.list_features()
    assert _records(caplog) == []
    caplog.set_level(logging.DEBUG, logger="metaxy.stores")
    with mx.InMemoryMetadataStore(enable_logging=True, log_level=logging.DEBUG) as debug:
        debug.list_features()
    assert [r.levelno for r in _records(caplog)] == [logging.DEBUG]


def test_a_failed_call_logs_the_error_at_warning_or_above(
    caplog: pytest.LogCaptureFixture, example_features: ExampleFeatures
) -> None:
    caplog.set_level(logging.INFO, logger="metaxy.stores")
    with mx.InMemoryMetadataStore(enable_logging=True) as store, pytest.raises(SchemaError):
        store.write_metadata(example_features.video, pl.DataFrame({"path": ["x"]}))
    (record,) = _records(caplog)
    assert record.levelno == logging.WARNING
    assert "error=SchemaError" in record.getMessage()


def test_unknown_log_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="log_level='LOUD'"):
        mx.InMemoryMetadataStore(enable_logging=True, log_level="LOUD")

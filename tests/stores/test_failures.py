"""Failed samples on every store: recorded beside the feature, left out of new/stale until their
provenance changes or a retry is asked, cleared by a success, copied with the feature."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import SchemaError, VersioningError
from metaxy.ops.status import store_status
from tests.stores.graphs import bump


def _graph() -> tuple[type[mx.Feature], type[mx.Feature]]:
    class Audio(mx.Feature, spec=mx.FeatureSpec(key="fl/audio", fields=[mx.FieldSpec(key="wav")])):
        pass

    class Text(
        mx.Feature, spec=mx.FeatureSpec(key="fl/text", deps=[Audio], fields=[mx.FieldSpec(key="wav")])
    ):
        pass

    return Audio, Text


def _audio(*rows: tuple[int, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"sample_uid": [u for u, _ in rows], "metaxy_provenance_by_field": [{"wav": v} for _, v in rows]}
    )


def _ids(frame: pl.DataFrame) -> list[int]:
    return sorted(frame["sample_uid"].to_list())


def test_a_failed_sample_waits_until_its_provenance_changes_or_a_retry(
    store: mx.MetadataStore, graph: mx.FeatureGraph
) -> None:
    Audio, Text = _graph()
    store.write_metadata(Audio, _audio((1, "a"), (2, "a"), (3, "a")))
    todo = store.resolve_update(Text).new
    store.write_metadata(Text, todo.filter(pl.col("sample_uid") == 1))
    store.write_errors(Text, todo.filter(pl.col("sample_uid") > 1), error=ValueError("no speech"))

    increment = store.resolve_update(Text)
    assert (increment.new.height, increment.stale.height, _ids(increment.failed)) == (0, 0, [2, 3])
    assert increment.failed.row(0, named=True)["error_type"] == "ValueError"
    assert increment.failed["error_message"].to_list() == ["no speech", "no speech"]
    assert increment.failed["attempts"].to_list() == [1, 1]
    assert increment.is_empty
    assert _ids(store.resolve_update(Text, retry_failed=True).new) == [2, 3]
    lazy = store.resolve_update(Text, lazy=True).collect()
    assert (_ids(lazy.failed), lazy.new.height) == ([2, 3], 0)

    store.write_metadata(Audio, _audio((2, "b")))  # a new input: eligible again
    increment = store.resolve_update(Text)
    assert (_ids(increment.new), _ids(increment.failed)) == ([2], [3])
    store.write_metadata(Text, store.resolve_update(Text, retry_failed=True).new)  # successes clear
    cleared = store.resolve_update(Text)
    assert (cleared.is_empty, cleared.failed.height) == (True, 0)
    recorded = store.read_errors(Text).collect()
    assert _ids(recorded) == [2, 3]
    assert recorded["error_traceback"][0].startswith("ValueError: no speech")


def test_a_stale_sample_that_fails_is_failed_until_retried(
    store: mx.MetadataStore, graph: mx.FeatureGraph
) -> None:
    Audio, Text = _graph()
    store.write_metadata(Audio, _audio((1, "a")))
    store.write_metadata(Text, store.resolve_update(Text).new)
    store.write_metadata(Audio, _audio((1, "b")))
    stale = store.resolve_update(Text).stale
    errors = stale.with_columns(error_type=pl.lit("OOM"), error_message=pl.lit("out of memory"))
    store.write_errors(Text, errors)
    store.write_errors(Text, errors)
    increment = store.resolve_update(Text)
    assert (increment.stale.height, increment.failed["attempts"].to_list()) == (0, [2])
    assert store.resolve_update(Text, retry=mx.RetryPolicy(max_attempts=2)).stale.height == 0
    assert store.resolve_update(Text, retry=mx.RetryPolicy(max_attempts=3)).stale.height == 1
    assert store.resolve_update(Text, retry=mx.RetryPolicy(min_age=timedelta(hours=1))).stale.height == 0
    assert store.resolve_update(Text, retry=mx.RetryPolicy(min_age=timedelta(0))).stale.height == 1
    assert store_status(store, graph)[1].to_dict()["failed"] == 1


def test_errors_without_provenance_take_the_current_one_and_are_copied(
    store: mx.MetadataStore, graph: mx.FeatureGraph
) -> None:
    Audio, Text = _graph()
    store.write_metadata(Audio, _audio((1, "a"), (2, "a")))
    store.write_errors(Text, pl.DataFrame({"sample_uid": [2], "error_type": ["KeyError"]}))
    assert _ids(store.resolve_update(Text).failed) == [2]
    with mx.InMemoryMetadataStore(hash_algorithm=store.hash_settings.algorithm) as copy:
        copy.copy_metadata(store)
        assert _ids(copy.resolve_update(Text).failed) == [2]
        copy.copy_metadata(store)  # copying twice appends nothing
        assert copy.read_errors(Text).collect().height == 1


def test_bad_errors_are_refused(graph: mx.FeatureGraph) -> None:
    Audio, Text = _graph()
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Audio, _audio((1, "a")))
        with pytest.raises(SchemaError, match="needs an 'error_type' column"):
            store.write_errors(Text, pl.DataFrame({"sample_uid": [1]}))
        with pytest.raises(SchemaError, match=r"needs the sample key column\(s\) \['sample_uid'\]"):
            store.write_errors(Text, pl.DataFrame({"uid": [1], "error_type": ["E"]}))
        with pytest.raises(SchemaError, match="not samples of the feature"):
            store.write_errors(Text, pl.DataFrame({"sample_uid": [9], "error_type": ["E"]}))
        with pytest.raises(SchemaError, match="root feature's failed samples need"):
            store.write_errors(Audio, pl.DataFrame({"sample_uid": [9], "error_type": ["E"]}))
    with pytest.raises(VersioningError, match="at least 1 attempt"):
        mx.RetryPolicy(max_attempts=0)


def test_root_samples_that_failed_are_failed_when_given_again(graph: mx.FeatureGraph) -> None:
    Audio, _ = _graph()
    with mx.InMemoryMetadataStore() as store:
        samples = _audio((1, "a"), (2, "a"))
        store.write_errors(Audio, samples.filter(pl.col("sample_uid") == 2), error=OSError("unreadable"))
        increment = store.resolve_update(Audio, samples=samples)
        assert (_ids(increment.new), _ids(increment.failed)) == ([1], [2])
        assert increment.failed["error_type"].to_list() == ["OSError"]


def test_prune_removes_the_attempts_no_increment_reads_and_keeps_the_counted_ones(
    store: mx.MetadataStore, graph: mx.FeatureGraph
) -> None:
    Audio, Text = _graph()
    store.write_metadata(Audio, _audio((1, "a"), (2, "a"), (3, "a")))
    todo = store.resolve_update(Text).new
    for _ in range(2):
        store.write_errors(Text, todo, error=ValueError("no speech"))  # two attempts of each sample
    store.write_metadata(Text, todo.filter(pl.col("sample_uid") == 1))  # 1 succeeds: its attempts clear
    store.write_metadata(Audio, _audio((2, "b")))  # 2's input moves on, and fails again there
    store.write_errors(Text, store.resolve_update(Text).new, error=ValueError("still no speech"))
    before = store.resolve_update(Text).failed.sort("sample_uid")

    assert store.prune(Text, older_than=timedelta(days=1)).errors_pruned == 0  # every attempt is recent
    dry = store.prune(Text, dry_run=True)
    assert (dry.errors_pruned, store.read_errors(Text).collect().height) == (4, 7)
    report = store.prune(Text)
    assert (report.pruned, report.errors_pruned, report.to_dict()["errors_pruned"]) == (0, 4, 4)
    left = store.read_errors(Text).collect()
    assert (_ids(left), left.height) == ([2, 3, 3], 3)
    after = store.resolve_update(Text).failed.sort("sample_uid")
    assert after.select("sample_uid", "attempts").equals(before.select("sample_uid", "attempts"))
    assert after["attempts"].to_list() == [1, 2]  # RetryPolicy(max_attempts=...) counts the same
    assert store.prune(Text).errors_pruned == 0

    bump("fl/text", "wav", "2")  # a new feature version: the old version's attempts are not kept
    assert store.prune(Text, keep_versions=2, dry_run=True).errors_pruned == 0
    assert store.prune(Text).errors_pruned == 3
    assert store.read_errors(Text).collect().height == 0

"""``MockMetadataStore``: every operation can fail, on every call or on the n-th, and a failure changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import StoreBackendError, StoreError
from metaxy.testing import ExampleFeatures, MockMetadataStore, example_videos, materialize_example

Call = Callable[[MockMetadataStore, ExampleFeatures], Any]


def _transcripts(store: MockMetadataStore, f: ExampleFeatures) -> pl.DataFrame:
    return store.resolve_update(f.transcript).new.with_columns(text=pl.lit("t"))


#: one user-level call per public operation, on a store holding the example graph minus its summary
OPERATION_CALLS: dict[str, Call] = {
    "write_metadata": lambda s, f: s.write_metadata(f.video, example_videos((7, 8))),
    "read_metadata": lambda s, f: s.read_metadata(f.video).collect(),
    "delete_metadata": lambda s, f: s.delete_metadata(f.video, filters=pl.col("sample_uid") == 1),
    "resolve_update": lambda s, f: s.resolve_update(f.summary),
    "calculate_and_write_data_versions": lambda s, f: s.calculate_and_write_data_versions(
        f.summary, pl.DataFrame({"sample_uid": [1], "title": ["x"]})
    ),
    "has_feature": lambda s, f: s.has_feature(f.video),
    "list_features": lambda s, f: s.list_features(),
    "copy_metadata": lambda s, f: s.copy_metadata(_source_with_summary(f)),
}


def _source_with_summary(f: ExampleFeatures) -> mx.InMemoryMetadataStore:
    source = mx.InMemoryMetadataStore(name="source").open()  # in memory: nothing to release
    materialize_example(source, f)
    return source


def _contents(store: MockMetadataStore) -> dict[str, pl.DataFrame]:
    """Every stored row, per feature (history included), to compare before and after a failure."""
    contents = {}
    for key in store._list_keys():
        scanned = store._scan(key)
        assert scanned is not None
        contents[key.to_string()] = scanned.collect()
    return contents


@pytest.fixture
def store(example_features: ExampleFeatures) -> MockMetadataStore:
    store = MockMetadataStore()
    with store:
        materialize_example(store, example_features)
        store.delete_metadata(example_features.summary, soft=False)
    store.calls.clear()
    return store


@pytest.mark.parametrize("operation", sorted(OPERATION_CALLS))
def test_every_public_operation_fails_and_changes_nothing(
    store: MockMetadataStore, example_features: ExampleFeatures, operation: str
) -> None:
    store.set_failure(operation, StoreBackendError(f"{operation} is down"))
    with store:
        before = _contents(store)
        with pytest.raises(StoreBackendError, match=f"{operation} is down"):
            OPERATION_CALLS[operation](store, example_features)
        store.clear_failures()
        after = _contents(store)
        OPERATION_CALLS[operation](store, example_features)  # works again once cleared
    assert before.keys() == after.keys()
    for key, frame in before.items():
        assert after[key].equals(frame), key


@pytest.mark.parametrize("operation", sorted(OPERATION_CALLS))
def test_every_public_operation_can_fail_only_on_its_nth_call(
    store: MockMetadataStore, example_features: ExampleFeatures, operation: str
) -> None:
    store.set_failure(operation, TimeoutError, on_call=2)
    call = OPERATION_CALLS[operation]
    with store:
        call(store, example_features)
        with pytest.raises(TimeoutError):
            call(store, example_features)
        if operation not in ("write_metadata", "calculate_and_write_data_versions"):
            call(store, example_features)  # the failure is spent (rewriting the same ids is fine too)
    assert store.calls[operation] >= 2


@pytest.mark.parametrize(
    ("primitive", "call"),
    [
        ("scan", lambda s, f: s.resolve_update(f.summary)),
        ("append", lambda s, f: s.write_metadata(f.video, example_videos((9,)))),
        ("delete_rows", lambda s, f: s.delete_metadata(f.video, soft=False)),
        ("list_keys", lambda s, f: s.list_features()),
    ],
)
def test_backend_primitives_fail_inside_operations(
    store: MockMetadataStore, example_features: ExampleFeatures, primitive: str, call: Call
) -> None:
    before = _contents(store)
    store.set_failure(primitive, StoreBackendError("backend down"))
    with store:
        with pytest.raises(StoreBackendError, match="backend down"):
            call(store, example_features)
        store.clear_failures()
        after = _contents(store)
    assert after.keys() == before.keys()
    assert all(after[key].equals(frame) for key, frame in before.items())


def test_open_can_fail_and_the_store_stays_closed() -> None:
    store = MockMetadataStore()
    store.set_failure("open", ConnectionError("no route"), on_call=1)
    with pytest.raises(ConnectionError):
        store.open()
    assert not store.is_open
    with store:
        assert store.is_open


def test_internal_calls_neither_fail_nor_count(
    store: MockMetadataStore, example_features: ExampleFeatures
) -> None:
    # resolve_update reads upstream through read_metadata: a user-level read failure must not leak in
    store.set_failure("read", StoreBackendError("read down"))
    with store:
        increment = store.resolve_update(example_features.summary)
    assert increment.new.height == 3
    assert store.calls["resolve_update"] == 1
    assert store.calls["read_metadata"] == 0


def test_unknown_operation_names_the_valid_ones() -> None:
    with pytest.raises(StoreError, match="'wrte' is not a store operation") as info:
        MockMetadataStore().set_failure("wrte", RuntimeError)
    assert "write_metadata" in info.value.hint
    with pytest.raises(StoreError, match="on_call=0"):
        MockMetadataStore().set_failure("write", RuntimeError, on_call=0)


@pytest.mark.parametrize("operation", ["write", "append"])
def test_failed_write_registers_nothing_in_the_catalog(
    example_features: ExampleFeatures, operation: str
) -> None:
    catalog = mx.InMemoryCatalog()
    store = MockMetadataStore(catalog=catalog)
    store.set_failure(operation, StoreBackendError("disk full"), on_call=1)
    with store:
        with pytest.raises(StoreBackendError):
            store.write_metadata(example_features.video, example_videos())
        assert catalog.list_features() == []
        assert store.list_features() == []
        assert not store.has_feature(example_features.video)
        store.write_metadata(example_features.video, example_videos())
    info = catalog.get_materialization_info(example_features.video)
    assert set(info["sample_count"]) == {3}


def test_failed_copy_registers_nothing_in_the_catalog(example_features: ExampleFeatures) -> None:
    catalog = mx.InMemoryCatalog()
    store = MockMetadataStore(catalog=catalog)
    store.set_failure("append", StoreBackendError("disk full"))
    with store, pytest.raises(StoreBackendError):
        store.copy_metadata(_source_with_summary(example_features), [example_features.video])
    assert catalog.list_features() == []


def test_mock_is_a_store_usable_as_a_fallback(example_features: ExampleFeatures) -> None:
    prod = MockMetadataStore(name="prod")
    dev = mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod])
    with dev:
        prod.write_metadata(example_features.video, example_videos())
        prod.set_failure("scan", StoreBackendError("prod unreachable"))
        with pytest.raises(StoreBackendError, match="prod unreachable"):
            dev.resolve_update(example_features.transcript)

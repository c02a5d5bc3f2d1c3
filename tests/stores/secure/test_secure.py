"""``SecureMetadataStore``: every operation × role × pattern, denied calls never reach the store, audit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.catalog.memory import InMemoryCatalog
from metaxy.exceptions import AccessDeniedError
from metaxy.models.keys import FeatureKey
from metaxy.stores._read import ReadRequest
from metaxy.stores.wrappers.audit import AUDIT_KEY, AuditLog
from metaxy.stores.wrappers.auth import Grant, Permission, RolesTable
from metaxy.stores.wrappers.base import WrappedMetadataStore
from metaxy.stores.wrappers.secure import OPERATIONS, SecureMetadataStore
from tests.stores.graphs import video_graph, videos

ROLES = RolesTable(
    {
        "reader": [Grant(Permission.READ, "*")],
        "video_writer": [Grant(Permission.READ, "*"), Grant(Permission.WRITE, "video/*")],
        "audio_writer": [Grant(Permission.READ, "*"), Grant(Permission.WRITE, "audio/*")],
        "video_deleter": [Grant(Permission.DELETE, "video/*")],
        "raw_reader": [Grant(Permission.READ, "video/raw")],
        "admin": [Grant(Permission.ADMIN, "*")],
        "nobody": [],
    },
    {
        name: [name]
        for name in (
            "reader",
            "video_writer",
            "audio_writer",
            "video_deleter",
            "raw_reader",
            "admin",
            "nobody",
        )
    },
)
READERS = {"reader", "video_writer", "audio_writer", "raw_reader", "admin"}


class Counting(WrappedMetadataStore):
    """Counts every call that reaches the store it wraps (public operations and primitives)."""

    def __init__(self, store: mx.MetadataStore) -> None:
        super().__init__(store)
        self.calls: Counter[str] = Counter()

    def _call(self, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.calls[operation] += 1
        return method(*args, **kwargs)

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        self.calls["_read_rows"] += 1
        return super()._read_rows(request)

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        self.calls["_append"] += 1
        super()._append(key, df)

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        self.calls["_delete_rows"] += 1
        super()._delete_rows(key, predicate)


@pytest.fixture(autouse=True)
def graph() -> Iterator[None]:
    with mx.FeatureGraph().use():
        video_graph()
        yield


def _seeded() -> mx.InMemoryMetadataStore:
    store = mx.InMemoryMetadataStore(name="data")
    with store:
        store.write_metadata("video/raw", videos([1, 2]))
    return store


#: operation → (call, the roles allowed to make it): the expectations are written out, not derived
CASES: dict[str, tuple[Callable[[mx.MetadataStore, mx.MetadataStore], Any], set[str]]] = {
    "read_metadata": (lambda s, _: s.read_metadata("video/raw").collect(), READERS),
    "has_feature": (lambda s, _: s.has_feature("video/raw"), READERS),
    "provenance_digest": (lambda s, _: s.provenance_digest("video/raw"), READERS),
    "list_features": (lambda s, _: s.list_features(), READERS),
    "resolve_update": (  # reads video/transcript and its upstream video/raw
        lambda s, _: s.resolve_update("video/transcript"),
        READERS - {"raw_reader"},
    ),
    "write_metadata": (lambda s, _: s.write_metadata("video/raw", videos([9])), {"video_writer", "admin"}),
    "calculate_and_write_data_versions": (
        lambda s, _: s.calculate_and_write_data_versions(
            "video/transcript", pl.DataFrame({"sample_uid": [1], "text": ["a"]})
        ),
        {"video_writer", "admin"},
    ),
    "copy_metadata": (lambda s, source: s.copy_metadata(source, ["video/raw"]), {"video_writer", "admin"}),
    "delete_metadata": (
        lambda s, _: s.delete_metadata("video/raw", filters=pl.col("sample_uid") == 1),
        {"video_deleter", "admin"},
    ),
    "prune": (lambda s, _: s.prune("video/raw"), {"admin"}),
    "migrate_schema": (
        lambda s, _: s.migrate_schema("video/raw", mx.SchemaMigration(add={"lang": pl.String})),
        {"admin"},
    ),
}


def test_the_table_covers_every_guarded_operation() -> None:
    assert set(CASES) == set(OPERATIONS)


@pytest.mark.parametrize("role", sorted(ROLES.members))
@pytest.mark.parametrize("operation", sorted(CASES))
def test_every_operation_for_every_role(operation: str, role: str) -> None:
    call, allowed = CASES[operation]
    counting = Counting(_seeded())
    log = AuditLog(mx.InMemoryMetadataStore(name="audit"))
    secure = SecureMetadataStore(counting, auth_backend=ROLES, principal=role, audit=log)
    source = mx.InMemoryMetadataStore(name="source")
    with source, secure:
        source.write_metadata("video/raw", videos([5]))
        if role in allowed:
            call(secure, source)
            assert counting.calls[operation] == 1
        else:
            with pytest.raises(AccessDeniedError, match=f"principal '{role}' may not {operation}"):
                call(secure, source)
            assert sum(counting.calls.values()) == 0  # the wrapped store never saw the call
    last = log.entries().tail(1).to_dicts()[0]
    assert (last["principal"], last["operation"], last["allowed"]) == (role, operation, role in allowed)
    assert log.verify().ok


def test_list_features_shows_only_the_features_the_principal_may_read() -> None:
    data = _seeded()
    with data:
        data.write_metadata(
            "video/transcript", data.resolve_update("video/transcript").new.with_columns(text=pl.lit("x"))
        )
    with SecureMetadataStore(data, auth_backend=ROLES, principal="raw_reader") as secure:
        assert secure.list_features() == [FeatureKey("video/raw")]


def test_the_migration_log_shows_only_the_features_the_principal_may_read() -> None:
    data = _seeded()
    with data:
        data.write_metadata(
            "video/transcript", data.resolve_update("video/transcript").new.with_columns(text=pl.lit("x"))
        )
        for feature in ("video/raw", "video/transcript"):
            data.migrate_schema(feature, mx.SchemaMigration(add={"lang": pl.String}))
    with SecureMetadataStore(data, auth_backend=ROLES, principal="raw_reader") as secure:
        assert secure.schema_migrations()["feature"].to_list() == ["video/raw"]
        assert secure.schema_migrations("video/raw").height == 1
        with pytest.raises(AccessDeniedError, match="may not schema_migrations"):
            secure.schema_migrations("video/transcript")
    with (
        SecureMetadataStore(data, auth_backend=ROLES, principal="nobody") as secure,
        pytest.raises(AccessDeniedError),
    ):
        secure.schema_migrations()


def test_a_fallback_read_through_a_secure_store_is_checked() -> None:
    prod = SecureMetadataStore(Counting(_seeded()), auth_backend=ROLES, principal="nobody")
    dev = mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod])
    with dev:
        with pytest.raises(AccessDeniedError, match=r"principal .nobody. may not"):
            dev.read_metadata("video/raw").collect()
        assert sum(prod.inner.calls.values()) == 0  # type: ignore[attr-defined]
    allowed = mx.InMemoryMetadataStore(
        name="dev", fallback_stores=[SecureMetadataStore(_seeded(), auth_backend=ROLES, principal="reader")]
    )
    with allowed:
        assert allowed.read_metadata("video/raw").collect().height == 2


def test_copying_out_of_a_secure_store_needs_read_on_it() -> None:
    source = SecureMetadataStore(_seeded(), auth_backend=ROLES, principal="video_deleter")
    target = mx.InMemoryMetadataStore(name="target")
    with source, target, pytest.raises(AccessDeniedError, match="list_features"):
        target.copy_metadata(source)


def test_the_catalog_is_checked_too() -> None:
    catalog = InMemoryCatalog()
    data = mx.InMemoryMetadataStore(name="data", catalog=catalog)
    with data:
        data.write_metadata("video/raw", videos([1]))
    with SecureMetadataStore(data, auth_backend=ROLES, principal="reader") as secure:
        assert secure.catalog.has_feature("video/raw")
        assert secure.catalog.list_features() == [FeatureKey("video/raw")]
        with pytest.raises(AccessDeniedError, match=r"catalog\.forget_materialization"):
            secure.catalog.forget_materialization("video/raw")
    with (
        SecureMetadataStore(data, auth_backend=ROLES, principal="nobody") as secure,
        pytest.raises(AccessDeniedError, match=r"catalog\.has_feature"),
    ):
        secure.catalog.has_feature("video/raw")
    assert catalog.has_feature("video/raw")  # nothing was forgotten


def test_admin_operations_of_a_wrapped_store_need_admin() -> None:
    from metaxy.stores.wrappers.encrypted import EncryptedMetadataStore

    encrypted = EncryptedMetadataStore(
        mx.InMemoryMetadataStore(), encryption_key=b"k" * 32, encrypted_columns=["path"]
    )
    with encrypted:
        encrypted.write_metadata("video/raw", videos([1, 2]))
    with (
        SecureMetadataStore(encrypted, auth_backend=ROLES, principal="video_writer") as secure,
        pytest.raises(AccessDeniedError, match="rotate_key"),
    ):
        secure.rotate_key(b"n" * 32)
    with SecureMetadataStore(encrypted, auth_backend=ROLES, principal="admin") as secure:
        assert secure.rotate_key(b"n" * 32) == {FeatureKey("video/raw"): 2}


# -- the audit log -----------------------------------------------------------------------------------


def _audited(count: int) -> AuditLog:
    log = AuditLog(mx.InMemoryMetadataStore(name="audit"))
    with SecureMetadataStore(_seeded(), auth_backend=ROLES, principal="reader", audit=log) as secure:
        for _ in range(count - 1):
            secure.read_metadata("video/raw").collect()
        with pytest.raises(AccessDeniedError):
            secure.write_metadata("video/raw", videos([3]))
    return log


def _rewrite(log: AuditLog, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    """Edit the stored log behind metaxy's back (as someone with the database's credentials could)."""
    with log.store:
        rows = change(log.entries())
        log.store._delete_rows(AUDIT_KEY, None)
        log.store.append_system_rows(AUDIT_KEY, rows)


def test_entries_record_principal_operation_feature_rows_and_outcome() -> None:
    log = _audited(3)
    entries = log.entries()
    assert entries["seq"].to_list() == [1, 2, 3]
    assert entries.select("principal", "operation", "feature", "rows", "allowed").to_dicts() == [
        {
            "principal": "reader",
            "operation": "read_metadata",
            "feature": "video/raw",
            "rows": None,
            "allowed": True,
        },
        {
            "principal": "reader",
            "operation": "read_metadata",
            "feature": "video/raw",
            "rows": None,
            "allowed": True,
        },
        {
            "principal": "reader",
            "operation": "write_metadata",
            "feature": "video/raw",
            "rows": None,
            "allowed": False,
        },
    ]
    assert "may not write_metadata" in entries["detail"][2]
    report = log.verify()
    assert report.ok
    assert report.head == entries["hash"][2]


def test_verify_detects_an_edited_entry() -> None:
    log = _audited(4)
    _rewrite(
        log,
        lambda rows: rows.with_columns(allowed=pl.when(pl.col("seq") == 4).then(True).otherwise("allowed")),
    )
    report = log.verify()
    assert report.problems == ["entry 4: its content does not match its hash (edited)"]


def test_verify_detects_a_deleted_entry() -> None:
    log = _audited(4)
    _rewrite(log, lambda rows: rows.filter(pl.col("seq") != 2))
    problems = log.verify().problems
    assert "entry 3: expected entry 2 (an entry was deleted or inserted)" in problems
    assert "entry 3: does not follow the entry before it (broken chain)" in problems


def test_a_deleted_last_entry_is_found_against_a_kept_head() -> None:
    log = _audited(3)
    head = log.verify().head
    _rewrite(log, lambda rows: rows.filter(pl.col("seq") != 3))
    assert log.verify().ok  # the chain alone cannot see a cut tail
    assert "removed at the end" in log.verify(expect_head=head).problems[0]


def test_a_new_log_object_continues_the_chain() -> None:
    log = _audited(2)
    again = AuditLog(log.store)
    again.record(principal="p", operation="read_metadata", feature=None, allowed=True)
    assert again.entries()["seq"].to_list() == [1, 2, 3]
    assert again.verify().ok

"""``SecureMetadataStore``: every operation checked against the principal's roles, and audited.

A denied call raises :class:`AccessDeniedError` before anything reaches the wrapped store. The checks
cover the public operations, the primitives other stores call when this one sits in a fallback chain
or is the source of a copy, and the catalog (:attr:`SecureMetadataStore.catalog`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import polars as pl

from metaxy.constants import SYSTEM_NAMESPACE
from metaxy.exceptions import AccessDeniedError
from metaxy.models.feature import FeatureLike, resolve_feature
from metaxy.models.keys import FeatureKey
from metaxy.models.plan import FeaturePlan
from metaxy.stores._read import ReadRequest
from metaxy.stores.base import MetadataStore
from metaxy.stores.wrappers.audit import AuditLog
from metaxy.stores.wrappers.auth import AuthBackend, Permission
from metaxy.stores.wrappers.base import WrappedMetadataStore
from metaxy.versioning.increment import Increment

__all__ = ["OPERATIONS", "SecureMetadataStore"]

R = TypeVar("R")

#: the permission each public operation needs on its feature(s)
OPERATIONS: dict[str, Permission] = {
    "read_metadata": Permission.READ,
    "has_feature": Permission.READ,
    "list_features": Permission.READ,
    "provenance_digest": Permission.READ,
    "resolve_update": Permission.READ,  # and read on every upstream feature
    "write_metadata": Permission.WRITE,
    "calculate_and_write_data_versions": Permission.WRITE,  # and read on every upstream feature
    "copy_metadata": Permission.WRITE,  # on every feature copied in
    "delete_metadata": Permission.DELETE,
    "prune": Permission.ADMIN,  # removes history wholesale
    "migrate_schema": Permission.ADMIN,  # rewrites every stored row
}
#: operations of other wrappers and of the operations layer that change stored rows wholesale
ADMIN_OPERATIONS = ("rotate_key", "prune", "migrate_schema")


class SecureMetadataStore(WrappedMetadataStore):
    """Checks ``principal``'s permissions (``auth_backend.permits``) before every operation on ``store``.

    Args:
        store: the store to guard.
        auth_backend: answers ``permits(principal, permission, feature)`` (see :mod:`.auth`).
        principal: who is calling (``auth_backend.verify(api_key)`` turns a key into one).
        audit: where every attempted operation is recorded (allowed or denied); ``None``: not recorded.

    Example:
        >>> import metaxy as mx
        >>> from metaxy.stores.wrappers.auth import Grant, Permission, RolesTable
        >>> roles = RolesTable({"reader": [Grant(Permission.READ, "*")]}, {"dash": ["reader"]})
        >>> store = SecureMetadataStore(mx.InMemoryMetadataStore(), auth_backend=roles, principal="dash")
    """

    kind = "secure"

    def __init__(
        self,
        store: MetadataStore,
        *,
        auth_backend: AuthBackend,
        principal: str,
        audit: AuditLog | None = None,
        name: str | None = None,
        enable_logging: bool = False,
        log_level: int | str = "INFO",
    ) -> None:
        self.auth_backend = auth_backend
        self.principal = principal
        self.audit = audit
        super().__init__(store, name=name, enable_logging=enable_logging, log_level=log_level)

    # -- the check around every public operation --------------------------------------------------

    def _call(self, operation: str, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        needs = self._needs(operation, args, kwargs)
        features = [f for _, f in needs]
        for permission, feature in needs:
            self.authorize(operation, permission, [feature], audited=features)
        try:
            result = method(*args, **kwargs)
        except Exception as exc:
            self._record(operation, features, allowed=True, detail=f"failed: {type(exc).__name__}")
            raise
        if operation == "list_features":
            result = [k for k in result if self._permits(Permission.READ, k)]  # type: ignore[attr-defined,assignment]
        self._record(operation, features, allowed=True, rows=_rows(result, args))
        return result

    def authorize(
        self,
        operation: str,
        permission: Permission,
        features: Sequence[FeatureKey | None],
        *,
        audited: Sequence[FeatureKey | None] | None = None,
    ) -> None:
        """Raise :class:`AccessDeniedError` (and audit the denial) unless every feature is permitted."""
        denied = [f for f in features if not self._permits(permission, f)]
        if not denied:
            return
        what = "the store" if denied[0] is None else f"feature {denied[0].to_string()!r}"
        error = AccessDeniedError(
            f"{self.name}: principal {self.principal!r} may not {operation} ({permission.value}) on {what}.",
            hint=f"Grant a role of {self.principal!r} '{permission.value}' on a pattern matching it "
            "in [security.roles] of metaxy.toml, or call with another principal's API key.",
        )
        self._record(operation, features if audited is None else audited, allowed=False, detail=error.message)
        raise error

    def _permits(self, permission: Permission, feature: FeatureKey | None) -> bool:
        if feature is not None and feature.parts[0] == SYSTEM_NAMESPACE:
            feature = None  # system tables (snapshots, ...): any grant of the permission covers them
        return self.auth_backend.permits(self.principal, permission, feature)

    def _needs(
        self, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> list[tuple[Permission, FeatureKey | None]]:
        """The permissions an operation needs, one per feature (upstream reads included)."""
        permission = OPERATIONS[operation]
        if operation == "list_features":
            return [(permission, None)]
        if operation == "copy_metadata":
            source: MetadataStore = args[0]
            chosen = args[1] if len(args) > 1 else kwargs.get("features")
            keys = list(source.list_features()) if chosen is None else [resolve_feature(f)[0] for f in chosen]
            return [(permission, k) for k in keys]
        key, graph = resolve_feature(args[0])
        needs: list[tuple[Permission, FeatureKey | None]] = [(permission, key)]
        if operation in ("resolve_update", "calculate_and_write_data_versions") and key in graph:
            needs += [(Permission.READ, k) for k in graph.plan(key).upstream]
        return needs

    def _record(
        self,
        operation: str,
        features: Sequence[FeatureKey | None],
        *,
        allowed: bool,
        rows: int | None = None,
        detail: str | None = None,
    ) -> None:
        if self.audit is None:
            return
        names = [f.to_string() for f in features if f is not None]
        self.audit.record(
            principal=self.principal,
            operation=operation,
            feature=",".join(names) or None,
            allowed=allowed,
            rows=rows,
            detail=detail,
        )

    def _guard(self, operation: str, permission: Permission, key: FeatureKey | None) -> None:
        """Check a primitive called by another store (fallback reads, copies) or the operations layer."""
        self.authorize(operation, permission, [key])
        self._record(operation, [key], allowed=True)

    # -- operations of other wrappers and of metaxy.ops, reached through this one ----------------------

    def __getattr__(self, name: str) -> Any:
        if name in ADMIN_OPERATIONS:
            method = getattr(self.inner, name)

            def guarded(*args: Any, **kwargs: Any) -> Any:
                feature = resolve_feature(args[0])[0] if args and name != "rotate_key" else None
                self.authorize(name, Permission.ADMIN, [feature])
                result = method(*args, **kwargs)
                self._record(name, [feature], allowed=True)
                return result

            return guarded
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def schema_migrations(self, feature: FeatureLike | None = None) -> pl.DataFrame:
        """The migration log, needing ``read`` on ``feature``; without one, the entries of the features
        the principal may read."""
        key = None if feature is None else resolve_feature(feature)[0]
        self._guard("schema_migrations", Permission.READ, key)
        log = self.inner.schema_migrations(feature)
        if key is not None or log.height == 0:
            return log
        readable = {f for f in log["feature"].unique() if self._permits(Permission.READ, FeatureKey(f))}
        return log.filter(pl.col("feature").is_in(sorted(readable)))

    # -- primitives: what fallback chains, copies and metaxy.ops call ---------------------------------

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        self._guard("read_rows", Permission.READ, request.key)
        return self.inner._read_rows(request)

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        self._guard("scan", Permission.READ, key)
        return self.inner._scan(key)

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        self.authorize("append", Permission.WRITE, [key])
        self.inner._append(key, df)
        self._record("append", [key], allowed=True, rows=df.height)

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        self._guard("delete_rows", Permission.DELETE, key)
        self.inner._delete_rows(key, predicate)

    def _list_keys(self) -> list[FeatureKey]:
        return [k for k in self.inner._list_keys() if self._permits(Permission.READ, k)]

    def _holds(self, key: FeatureKey, feature_version: str | None) -> bool:
        self.authorize("holds", Permission.READ, [key])
        return self.inner._holds(key, feature_version)

    def _stored_columns(self, key: FeatureKey) -> list[str] | None:
        self.authorize("stored_columns", Permission.READ, [key])
        return self.inner._stored_columns(key)

    def _resolve_native(
        self,
        plan: FeaturePlan,
        upstream_versions: Mapping[FeatureKey, str],
        filters: Sequence[pl.Expr],
        *,
        lazy: bool,
    ) -> Increment[Any] | None:
        self.authorize("resolve_native", Permission.READ, [plan.key, *plan.upstream])
        return self.inner._resolve_native(plan, upstream_versions, filters, lazy=lazy)

    # -- the catalog ------------------------------------------------------------------------------

    @property  # type: ignore[override]
    def catalog(self) -> Any:
        """The wrapped store's catalog, each call checked like a store operation (``None`` without one)."""
        inner_catalog = getattr(self.inner, "catalog", None)
        return None if inner_catalog is None else _GuardedCatalog(self, inner_catalog)

    @catalog.setter
    def catalog(self, value: Any) -> None:
        if "inner" in self.__dict__ and "principal" in self.__dict__ and value is not None:
            self.inner.catalog = value  # the wrapped store records its writes; reads come through the guard


class _GuardedCatalog:
    """A catalog seen through a :class:`SecureMetadataStore`: reads need ``read``, records ``write``."""

    _CALLS: dict[str, Permission] = {
        "has_feature": Permission.READ,
        "get_materialized_versions": Permission.READ,
        "get_materialization_info": Permission.READ,
        "register_materialization": Permission.WRITE,
        "forget_materialization": Permission.DELETE,
    }

    def __init__(self, store: SecureMetadataStore, catalog: Any) -> None:
        self._store, self._catalog = store, catalog

    def list_features(self, **kwargs: Any) -> list[FeatureKey]:
        self._store._guard("catalog.list_features", Permission.READ, None)
        return [k for k in self._catalog.list_features(**kwargs) if self._store._permits(Permission.READ, k)]

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._catalog, name)
        if not callable(attribute):
            return attribute
        permission = self._CALLS.get(name, Permission.ADMIN)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            feature = resolve_feature(args[0])[0] if args and name in self._CALLS else None
            self._store._guard(f"catalog.{name}", permission, feature)
            return attribute(*args, **kwargs)

        return guarded


def _rows(result: Any, args: tuple[Any, ...]) -> int | None:
    """The rows an operation touched, when known without extra work."""
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    if isinstance(result, dict):
        return sum(v for v in result.values() if isinstance(v, int))
    if isinstance(result, pl.DataFrame):
        return int(result.height)
    if isinstance(result, Increment) and isinstance(result.new, pl.DataFrame):
        return sum(int(f.height) for f in result)
    if result is None and len(args) > 1 and isinstance(args[1], pl.DataFrame):
        return int(args[1].height)  # a write: the rows given
    return None

"""Every error and warning metaxy raises, in one tree.

::

    MetaxyError
    ├── DefinitionError                 a feature graph that cannot be built
    │   ├── InvalidKeyError             a feature or field key breaks the key rules
    │   ├── DuplicateFeatureError       two classes claim one feature key
    │   ├── DuplicateFieldError         one field key declared twice in a spec
    │   ├── UnknownFeatureError         a dependency or lookup names an unknown feature
    │   ├── UnknownFieldError           a field dependency names an unknown upstream field
    │   └── CycleError                  the dependency graph has a cycle
    ├── VersioningError                 sample-level versions cannot be computed
    │   ├── MissingSamplesError         a root feature resolved without ``samples=``
    │   ├── InvalidShardError           a ``shard=(i, n)`` out of range, or ids a shard cannot hash
    │   └── SchemaError                 a frame lacks a column or has the wrong shape
    ├── StoreError                      a metadata store refused or failed an operation
    │   ├── StoreClosedError            the store was used outside ``with store:``
    │   ├── ReadOnlyStoreError          a write or delete on a read-only store
    │   ├── StoreNotFoundError          a store opened for reading does not exist at its location
    │   ├── HashSettingsMismatchError   a fallback chain mixes hash settings
    │   ├── FallbackCycleError          a store is in its own fallback chain
    │   ├── FeatureNotFoundError        nothing is stored for a feature
    │   ├── TableNameCollisionError     two feature keys map to one SQL table
    │   ├── InvalidFilterError          a filter is not a Polars expression or names an unknown column
    │   ├── FilterPushdownError         a filter cannot be translated for the store
    │   ├── MissingDependencyError      a store's optional driver is not installed
    │   ├── SnapshotNotFoundError       no pushed graph snapshot has the requested id
    │   ├── MigrationError              a migration does not match the current definitions
    │   │   └── SchemaMigrationError    a schema migration names an unknown column, casts lossily, ...
    │   ├── RetentionError              ``prune`` options that contradict each other or are out of range
    │   ├── QueryError                  ``store.sql()`` got no single read statement, or the query failed
    │   ├── StoreBackendError           the backend failed (transient or not)
    │   ├── DecryptionError             an encrypted value read with a wrong key, or tampered with
    │   ├── AuthenticationError         an API key that belongs to no principal
    │   ├── AccessDeniedError           a principal's roles do not grant the operation
    │   └── AuditIntegrityError         the audit log's hash chain is broken (an edited or deleted entry)
    ├── CatalogError                    a materialization catalog failed
    │   └── CatalogNotFoundError        a catalog opened for reading does not exist at its location
    ├── ConfigError                     metaxy.toml / METAXY_* settings are invalid
    ├── IntegrationError                an integration (Dagster, Ray, Dask) cannot run as configured
    ├── RequestError                    a read request (API, MCP) out of bounds: page size, lookup ids
    └── LegacyAPIError                  a Metaxy 0.1.x spelling with no equivalent here (names the replacement)
        └── LegacyImportError           an import from ``metaxy.ext`` (0.1.x's home of the stores)

    MetaxyWarning
    ├── PolarsFallbackWarning           the native engine was not usable, Polars computed instead
    ├── LocalFilterWarning              a filter ran locally instead of in the store
    │   └── EncryptedFilterWarning      a filter on an encrypted column ran after decryption
    ├── MissingUpstreamWarning          samples whose foreign key points at no upstream row were left out
    └── MetaxyDeprecationWarning        a Metaxy 0.1.x spelling was accepted; use the new one

Every message says what failed, where, and ends with a ``Hint:`` line saying how to fix it.
"""

from __future__ import annotations

from typing import Any


class MetaxyError(Exception):
    """Root of every metaxy error. ``hint`` says how to fix the problem."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\nHint: {hint}" if hint else message)

    def __reduce__(self) -> tuple[Any, ...]:
        # keep the hint and every attribute (``transient``, ...) when the error crosses a process boundary
        return (_rebuild, (type(self), self.message, self.hint), dict(self.__dict__))


def _rebuild(cls: type[MetaxyError], message: str, hint: str | None) -> MetaxyError:
    err = cls.__new__(cls)
    MetaxyError.__init__(err, message, hint=hint)
    return err


class DefinitionError(MetaxyError):
    """A feature graph cannot be built from the given definitions."""


class InvalidKeyError(DefinitionError):
    """A feature or field key breaks the key rules."""


class DuplicateFeatureError(DefinitionError):
    """Two different classes claim the same feature key in one graph."""


class DuplicateFieldError(DefinitionError):
    """A field key is declared twice in one feature spec."""


class UnknownFeatureError(DefinitionError, KeyError):
    """A dependency or a lookup names a feature the graph does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return Exception.__str__(self)


class UnknownFieldError(DefinitionError):
    """A field dependency names a field the upstream feature does not have."""


class CycleError(DefinitionError):
    """The feature dependency graph contains a cycle."""


class VersioningError(MetaxyError):
    """Sample-level versions cannot be computed."""


class MissingSamplesError(VersioningError):
    """A root feature was resolved without ``samples=``."""


class InvalidShardError(VersioningError):
    """A ``shard=(i, n)`` is not a valid shard (``n < 1``, ``i`` outside ``0..n-1``) or its key cannot be hashed."""


class SchemaError(VersioningError):
    """A frame lacks a required column, has null/duplicate ids or a wrong shape."""


class StoreError(MetaxyError):
    """A metadata store refused or failed an operation.

    ``transient`` says whether the same call may succeed if retried (a lost commit race, a dropped
    connection); terminal errors (bad input, a missing table, a refused type) are not worth retrying.
    """

    def __init__(self, message: str, *, hint: str | None = None, transient: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.transient = transient


class StoreClosedError(StoreError):
    """The store was used while closed."""


class ReadOnlyStoreError(StoreError):
    """A write or delete was attempted on a read-only store."""


class StoreNotFoundError(StoreError):
    """A store opened for reading does not exist at its (resolved) location; nothing was created."""


class HashSettingsMismatchError(StoreError):
    """Stores of one fallback chain use different hash settings."""


class FallbackCycleError(StoreError):
    """A store appears in its own fallback chain (reads would never end)."""


class FeatureNotFoundError(StoreError):
    """Nothing is stored for the feature in the store (or its fallbacks)."""


class TableNameCollisionError(StoreError):
    """Two feature keys map to one SQL table name (``x/a-b`` and ``x/a_b``), in a graph or a store."""


class InvalidFilterError(StoreError):
    """A filter is not a Polars expression, or names a column the feature does not have."""


class FilterPushdownError(StoreError):
    """A filter expression cannot be evaluated by the store."""


class MissingDependencyError(StoreError, ImportError):
    """An optional driver needed by a store or catalog is not installed."""


class SnapshotNotFoundError(StoreError):
    """No graph snapshot with the requested id was pushed to the store."""


class MigrationError(StoreError):
    """A migration was asked for versions that do not match the current feature definitions."""


class QueryError(StoreError):
    """A SQL query over stored metadata (``store.sql``) is not one read statement, or it failed."""


class SchemaMigrationError(MigrationError):
    """A schema migration cannot apply: an unknown column, a lossy cast, a rename onto an existing
    column, a change to an id or system column."""


class RetentionError(StoreError):
    """``prune`` was given options that contradict each other or are out of range."""


class StoreBackendError(StoreError):
    """The backend failed. ``transient`` says whether retrying may help."""


class DecryptionError(StoreError):
    """An encrypted value cannot be decrypted: its key is not in the keyring, or it was tampered with."""


class AuthenticationError(StoreError):
    """An API key matches no configured principal."""


class AccessDeniedError(StoreError):
    """The principal's roles do not grant the permission an operation needs on a feature."""


class AuditIntegrityError(StoreError):
    """The audit log's hash chain does not verify: an entry was edited, deleted or inserted."""


class CatalogError(MetaxyError):
    """A materialization catalog failed."""


class CatalogNotFoundError(CatalogError):
    """A catalog opened read-only does not exist at its (resolved) location; nothing was created."""


class ConfigError(MetaxyError):
    """The project configuration is invalid."""


class IntegrationError(MetaxyError):
    """An integration cannot run as configured (a Dagster partition without a column to filter, ...)."""


class RequestError(MetaxyError):
    """A read request to the web API or MCP server is out of bounds (page size, lookup ids)."""


class LegacyAPIError(MetaxyError, TypeError):
    """A Metaxy 0.1.x argument, method or import that has no equivalent here; the hint names the replacement."""


class LegacyImportError(LegacyAPIError, ImportError):
    """``import metaxy.ext...``: Metaxy 0.1.x's store modules; every store is in ``metaxy`` here."""


class MetaxyWarning(UserWarning):
    """Root of every warning metaxy emits."""


class PolarsFallbackWarning(MetaxyWarning):
    """The native SQL engine could not be used; the Polars engine computed instead."""


class LocalFilterWarning(MetaxyWarning):
    """A filter could not be pushed into the store and ran locally."""


class EncryptedFilterWarning(LocalFilterWarning):
    """A filter names an encrypted column: it ran on decrypted rows, after reading, not in the store."""


class MissingUpstreamWarning(MetaxyWarning):
    """Samples whose foreign key (``FeatureDep(on=...)``) is null or points at no upstream row were
    left out of the increment; the message counts them and names some."""


class MetaxyDeprecationWarning(MetaxyWarning, DeprecationWarning):
    """A Metaxy 0.1.x spelling (configuration layout, ...) was accepted; the message says the new one."""

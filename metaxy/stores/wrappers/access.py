"""A configured store behind the project's ``[security]`` table: API key → principal → checked store."""

from __future__ import annotations

from metaxy.config.settings import MetaxyConfig
from metaxy.exceptions import AccessDeniedError, AuthenticationError, ConfigError
from metaxy.stores.base import MetadataStore
from metaxy.stores.registry import store_from_config
from metaxy.stores.wrappers.audit import AuditLog
from metaxy.stores.wrappers.auth import APIKeyBackend, Permission
from metaxy.stores.wrappers.secure import SecureMetadataStore

API_KEY_ENV = "METAXY_API_KEY"


def secured(store: MetadataStore, config: MetaxyConfig, api_key: str | None) -> MetadataStore:
    """``store`` checked for the principal of ``api_key`` when the config has ``[security]``; else as is.

    Raises:
        AuthenticationError: the config has ``[security]`` and the key is missing or matches no principal.
    """
    if config.security is None:
        return store
    backend = APIKeyBackend.from_config(config.security)
    principal = authenticate(backend, api_key)
    return SecureMetadataStore(store, auth_backend=backend, principal=principal, audit=audit_log(config))


def authenticate(backend: APIKeyBackend, api_key: str | None) -> str:
    """The principal ``api_key`` belongs to."""
    if not api_key:
        raise AuthenticationError(
            "This project's configuration has a [security] table: store operations need an API key.",
            hint=f"Pass --api-key KEY or set {API_KEY_ENV}; an admin creates keys with `metaxy auth new-key NAME`.",
        )
    principal = backend.verify(api_key)
    if principal is None:
        raise AuthenticationError(
            "The API key belongs to no principal of [security.principals].",
            hint="Check the key (copy it whole); an admin can issue a new one with `metaxy auth new-key NAME`.",
        )
    return principal


def audit_log(config: MetaxyConfig) -> AuditLog | None:
    """The audit log of ``[security] audit_store`` (``None`` when not configured)."""
    if config.security is None or config.security.audit_store is None:
        return None
    return AuditLog(store_from_config(config, config.security.audit_store))


def admin_audit_log(config: MetaxyConfig, api_key: str | None) -> AuditLog:
    """The audit log, for a principal holding ``admin`` (on some pattern) when ``[security]`` is set.

    Raises:
        ConfigError: no audit store is configured.
        AccessDeniedError: the key's principal is no admin.
    """
    log = audit_log(config)
    if log is None or config.security is None:
        raise ConfigError(
            f"No audit log is configured ({config.where('security', 'audit_store')} is not set).",
            hint='Add audit_store = "NAME" (a configured store) under [security].',
        )
    backend = APIKeyBackend.from_config(config.security)
    principal = authenticate(backend, api_key)
    if not backend.permits(principal, Permission.ADMIN, None):
        raise AccessDeniedError(
            f"Principal {principal!r} may not read the audit log (it needs admin).",
            hint=f"Grant a role of {principal!r} admin in [security.roles].",
        )
    return log

"""Who is calling and what they may do: the ``AuthBackend`` protocol, a roles table, API keys.

An :class:`AuthBackend` answers two questions: ``verify(key)`` — which principal an API key belongs
to (``None``: nobody) — and ``permits(principal, permission, feature)``. Two implementations:
:class:`RolesTable` (roles granting permissions on feature-key patterns; it knows no keys) and
:class:`APIKeyBackend` (principals' API keys, stored only as scrypt hashes, over a roles table).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Protocol, runtime_checkable

from metaxy.config.security import SecurityConfig
from metaxy.exceptions import ConfigError
from metaxy.models.keys import FeatureKey

#: scrypt cost used by :func:`hash_api_key` (2**14: ~16 MiB and tens of milliseconds per check)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SCHEME = "scrypt"
_KEY_PREFIX = "mxk_"


class Permission(StrEnum):
    """What a role may do on a feature. ``ADMIN`` implies the other three."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    ADMIN = "admin"


@runtime_checkable
class AuthBackend(Protocol):
    """Authentication (``verify``) and authorization (``permits``) for :class:`SecureMetadataStore`."""

    def verify(self, key: str) -> str | None:
        """The principal ``key`` belongs to, or ``None`` when it belongs to nobody."""
        ...

    def permits(self, principal: str, permission: Permission, feature: FeatureKey | None) -> bool:
        """Whether ``principal`` holds ``permission`` on ``feature`` (``None``: on the store as a whole)."""
        ...


@dataclass(frozen=True)
class Grant:
    """One permission on the feature keys matching ``pattern`` (``*`` matches any text, ``/`` included)."""

    permission: Permission
    pattern: str

    def covers(self, permission: Permission, feature: FeatureKey | None) -> bool:
        if self.permission not in (permission, Permission.ADMIN):
            return False
        if feature is None:  # a store-wide question (listing features): any grant of this kind answers it
            return True
        return fnmatchcase(feature.to_string(), self.pattern)


@dataclass
class RolesTable:
    """Roles (name → grants) and principals' roles; the ``permits`` half of an auth backend.

    Example:
        >>> table = RolesTable({"editor": [Grant(Permission.WRITE, "video/*")]}, {"alice": ["editor"]})
        >>> table.permits("alice", Permission.WRITE, FeatureKey("video/raw"))
        True
        >>> table.permits("alice", Permission.WRITE, FeatureKey("audio/raw"))
        False
    """

    roles: Mapping[str, Iterable[Grant]]
    members: Mapping[str, Iterable[str]]

    def __post_init__(self) -> None:
        self.roles = {name: tuple(grants) for name, grants in self.roles.items()}
        self.members = {name: tuple(roles) for name, roles in self.members.items()}
        for principal, roles in self.members.items():
            unknown = sorted(set(roles) - set(self.roles))
            if unknown:
                raise ConfigError(
                    f"Principal {principal!r} has unknown role(s) {unknown}.",
                    hint=f"Define them under [security.roles] (defined: {sorted(self.roles)}).",
                )

    @classmethod
    def from_config(cls, security: SecurityConfig) -> RolesTable:
        """The roles and principals of a ``[security]`` table."""
        roles = {
            name: [
                Grant(permission, pattern)
                for permission in Permission
                for pattern in getattr(role, permission.value)
            ]
            for name, role in security.roles.items()
        }
        return cls(roles, {name: p.roles for name, p in security.principals.items()})

    def verify(self, key: str) -> str | None:
        """A roles table holds no keys: it authenticates nobody (pair it with :class:`APIKeyBackend`)."""
        return None

    def permits(self, principal: str, permission: Permission, feature: FeatureKey | None) -> bool:
        return any(
            grant.covers(permission, feature)
            for role in self.members.get(principal, ())
            for grant in self.roles[role]
        )


@dataclass
class APIKeyBackend:
    """Principals log in with API keys, checked against scrypt hashes; permissions from ``roles``.

    Keys are never stored: only ``hash_api_key(key)``. A key is checked against every principal's
    hash, each comparison in constant time; a key that verified once is remembered by its SHA-256
    digest, so servers checking a key per request pay scrypt once.

    Args:
        key_hashes: principal name → the hash of its key (``hash_api_key``'s format).
        roles: what each principal may do.
    """

    key_hashes: Mapping[str, str]
    roles: RolesTable
    _known: dict[bytes, str] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        for principal, stored in self.key_hashes.items():
            _parse_hash(stored, principal)  # a malformed hash is a config error now, not a failed login later

    @classmethod
    def from_config(cls, security: SecurityConfig) -> APIKeyBackend:
        """The principals of a ``[security]`` table that have an ``api_key_hash``, with its roles."""
        hashes = {name: p.api_key_hash for name, p in security.principals.items() if p.api_key_hash}
        return cls(hashes, RolesTable.from_config(security))

    def verify(self, key: str) -> str | None:
        digest = hashlib.sha256(key.encode()).digest()
        with self._lock:
            known = self._known.get(digest)
        if known is not None:
            return known
        found = None
        for principal, stored in self.key_hashes.items():  # no early exit: timing says nothing of the order
            if _matches(key, stored) and found is None:
                found = principal
        if found is not None:
            with self._lock:
                self._known[digest] = found
        return found

    def permits(self, principal: str, permission: Permission, feature: FeatureKey | None) -> bool:
        return self.roles.permits(principal, permission, feature)


def generate_api_key() -> str:
    """A new random API key (32 bytes of entropy, URL-safe)."""
    return _KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The stored form of ``key``: ``scrypt$n$r$p$salt$hash`` (salt and hash base64)."""
    salt = secrets.token_bytes(16)
    derived = _scrypt(key, salt, n, r, p)
    return "$".join((_SCHEME, str(n), str(r), str(p), _b64(salt), _b64(derived)))


def _matches(key: str, stored: str) -> bool:
    n, r, p, salt, expected = _parse_hash(stored, "")
    return hmac.compare_digest(_scrypt(key, salt, n, r, p), expected)


def _scrypt(key: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(key.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 2**20, dklen=32)


def _parse_hash(stored: str, principal: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    try:
        if len(parts) != 6 or parts[0] != _SCHEME:
            raise ValueError("not scrypt$n$r$p$salt$hash")
        n, r, p = (int(x) for x in parts[1:4])
        return n, r, p, base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError as exc:
        raise ConfigError(
            f"The API key hash of principal {principal!r} is malformed ({exc}).",
            hint="Paste the whole line printed by `metaxy auth hash-key`.",
        ) from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

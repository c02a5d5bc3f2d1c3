"""API keys (scrypt hashes, constant-time checks) and the roles table of ``[security]``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from metaxy.config import load_config
from metaxy.config.security import SecurityConfig
from metaxy.exceptions import ConfigError
from metaxy.models.keys import FeatureKey
from metaxy.stores.wrappers.auth import (
    APIKeyBackend,
    AuthBackend,
    Grant,
    Permission,
    RolesTable,
    generate_api_key,
    hash_api_key,
)

FAST = {"n": 2**8}  # scrypt cost for tests; the stored hash carries its own parameters


def test_a_key_verifies_against_its_hash_only() -> None:
    alice, bob = generate_api_key(), generate_api_key()
    backend = APIKeyBackend(
        {"alice": hash_api_key(alice, **FAST), "bob": hash_api_key(bob, **FAST)}, RolesTable({}, {})
    )
    assert backend.verify(alice) == "alice"
    assert backend.verify(bob) == "bob"
    assert backend.verify(alice + "x") is None
    assert backend.verify("") is None
    assert isinstance(backend, AuthBackend)


def test_the_stored_hash_never_contains_the_key_and_is_salted() -> None:
    key = generate_api_key()
    first, second = hash_api_key(key, **FAST), hash_api_key(key, **FAST)
    assert key not in first
    assert first != second  # a fresh salt per hash
    assert first.startswith("scrypt$256$8$1$")
    assert hashlib.sha256(key.encode()).hexdigest() not in first


def test_a_verified_key_is_remembered_but_a_removed_principal_is_not_reachable_otherwise() -> None:
    key = generate_api_key()
    backend = APIKeyBackend({"alice": hash_api_key(key, **FAST)}, RolesTable({}, {}))
    assert backend.verify(key) == "alice"
    assert backend.verify(key) == "alice"  # served from the digest cache
    assert APIKeyBackend({}, RolesTable({}, {})).verify(key) is None


def test_a_malformed_hash_is_a_config_error_naming_the_principal() -> None:
    with pytest.raises(ConfigError, match=r"'alice'.*malformed") as info:
        APIKeyBackend({"alice": "md5$abc"}, RolesTable({}, {}))
    assert "metaxy auth hash-key" in str(info.value)


@pytest.mark.parametrize(
    ("permission", "feature", "expected"),
    [
        (Permission.READ, "video/raw", True),
        (Permission.READ, "audio/raw", True),
        (Permission.WRITE, "video/raw", True),
        (Permission.WRITE, "video/clips/faces", True),  # '*' crosses '/'
        (Permission.WRITE, "audio/raw", False),
        (Permission.DELETE, "video/raw", False),
        (Permission.ADMIN, "video/raw", False),
        (Permission.DELETE, "scratch/x", True),  # admin implies delete
        (Permission.WRITE, None, True),  # store-wide: some write grant exists
        (Permission.DELETE, None, True),
    ],
)
def test_roles_grant_permissions_on_patterns(
    permission: Permission, feature: str | None, expected: bool
) -> None:
    table = RolesTable(
        {
            "reader": [Grant(Permission.READ, "*")],
            "video": [Grant(Permission.WRITE, "video/*")],
            "scratch": [Grant(Permission.ADMIN, "scratch/*")],
        },
        {"alice": ["reader", "video", "scratch"]},
    )
    key = None if feature is None else FeatureKey(feature)
    assert table.permits("alice", permission, key) is expected
    assert table.permits("mallory", permission, key) is False  # not a member of anything


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown role"):
        RolesTable({}, {"alice": ["ghost"]})


def test_the_security_table_of_metaxy_toml_builds_the_backend(tmp_path: Path) -> None:
    key = generate_api_key()
    (tmp_path / "metaxy.toml").write_text(
        f"""
[security]
audit_store = "audit"

[security.roles.editor]
read = ["*"]
write = ["video/*"]

[security.principals.alice]
roles = ["editor"]
api_key_hash = "{hash_api_key(key, **FAST)}"

[security.principals.robot]
roles = ["editor"]
"""
    )
    config = load_config(tmp_path / "metaxy.toml")
    assert config.security is not None
    assert config.security.audit_store == "audit"
    backend = APIKeyBackend.from_config(config.security)
    assert backend.verify(key) == "alice"
    assert backend.permits("alice", Permission.WRITE, FeatureKey("video/raw"))
    assert not backend.permits("alice", Permission.WRITE, FeatureKey("audio/raw"))
    assert backend.permits("robot", Permission.READ, FeatureKey("audio/raw"))  # no key, still has roles


def test_a_principal_with_an_undefined_role_fails_config_loading(tmp_path: Path) -> None:
    (tmp_path / "metaxy.toml").write_text('[security.principals.alice]\nroles = ["ghost"]\n')
    with pytest.raises(ConfigError, match="ghost"):
        load_config(tmp_path / "metaxy.toml")


def test_an_unknown_permission_in_a_role_fails_config_loading() -> None:
    with pytest.raises(ValueError, match="execute"):
        SecurityConfig.model_validate({"roles": {"r": {"execute": ["*"]}}})

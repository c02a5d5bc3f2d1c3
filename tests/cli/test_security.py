"""``metaxy auth`` (keys and their hashes), ``--api-key`` and ``metaxy audit``."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from metaxy.config import load_config
from metaxy.stores.registry import store_from_config
from metaxy.stores.wrappers.audit import AUDIT_KEY, AuditLog
from metaxy.stores.wrappers.auth import APIKeyBackend, RolesTable, hash_api_key


def test_new_key_prints_a_key_that_verifies_against_the_printed_hash(run: Any) -> None:
    result = run("auth", "new-key", "alice", "--format", "json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    key, hashed = payload["api_key"], payload["api_key_hash"]
    assert key not in hashed
    assert APIKeyBackend({"alice": hashed}, RolesTable({}, {})).verify(key) == "alice"


def test_hash_key_reads_the_key_from_stdin_and_prints_the_toml_lines(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("mxk_secret\n"))
    result = run("auth", "hash-key", "robot")
    assert result.code == 0, result.err
    assert "[security.principals.robot]" in result.out
    assert "mxk_secret" not in result.out
    hashed = result.out.split("api_key_hash = ")[1].strip().strip("'")
    assert APIKeyBackend({"robot": hashed}, RolesTable({}, {})).verify("mxk_secret") == "robot"


KEYS = {"alice": "mxk_alice_key", "dash": "mxk_dash_key", "root": "mxk_root_key"}


def _secure_project(project: Path) -> None:
    hashes = {name: hash_api_key(key, n=2**8) for name, key in KEYS.items()}
    with (project / "metaxy.toml").open("a") as config:
        config.write(
            f"""
[stores.audit]
type = "pipeline.parquet_store:ParquetDirMetadataStore"
root = ".metaxy/audit"

[security]
audit_store = "audit"

[security.roles.editor]
read = ["*"]
write = ["video/*"]
delete = ["video/*"]

[security.roles.viewer]
read = ["video/raw"]

[security.roles.auditor]
admin = ["*"]

[security.principals.alice]
roles = ["editor"]
api_key_hash = "{hashes["alice"]}"

[security.principals.dash]
roles = ["viewer"]
api_key_hash = "{hashes["dash"]}"

[security.principals.root]
roles = ["auditor"]
api_key_hash = "{hashes["root"]}"
"""
        )


def test_a_secured_project_needs_a_valid_api_key(run: Any, seeded: Path) -> None:
    _secure_project(seeded)
    missing = run("status")
    assert missing.code == 1
    assert "need an API key" in missing.err
    wrong = run("status", "--api-key", "mxk_guess")
    assert wrong.code == 1
    assert "belongs to no principal" in wrong.err
    assert run("status", "--api-key", KEYS["alice"]).code == 0


def test_the_api_key_comes_from_the_environment_too(
    run: Any, seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _secure_project(seeded)
    monkeypatch.setenv("METAXY_API_KEY", KEYS["alice"])
    assert run("status").code == 0


def test_a_denied_cli_operation_is_refused_and_audited(run: Any, seeded: Path) -> None:
    _secure_project(seeded)
    denied = run("metadata", "delete", "video/raw", "--yes", "--api-key", KEYS["dash"])
    assert denied.code == 1
    assert "principal 'dash' may not delete_metadata (delete) on feature 'video/raw'" in denied.err
    listed = run("audit", "list", "--denied", "--format", "json", "--api-key", KEYS["root"])
    assert listed.code == 0, listed.err
    entries = json.loads(listed.out)["entries"]
    assert [(e["principal"], e["operation"], e["feature"], e["allowed"]) for e in entries] == [
        ("dash", "delete_metadata", "video/raw", False)
    ]
    assert run("audit", "list", "--api-key", KEYS["dash"]).code == 1  # the log is for admins
    verified = run("audit", "verify", "--api-key", KEYS["root"])
    assert verified.code == 0, verified.err
    assert "chain intact" in verified.out


def test_audit_verify_exits_1_when_an_entry_was_deleted(run: Any, seeded: Path) -> None:
    _secure_project(seeded)
    for _ in range(3):
        assert run("status", "--api-key", KEYS["alice"]).code == 0
    config = load_config()
    log = AuditLog(store_from_config(config, "audit"))
    with log.store:
        rows = log.entries()
        log.store._delete_rows(AUDIT_KEY, None)
        log.store.append_system_rows(AUDIT_KEY, rows.filter(pl.col("seq") != 2))
    result = run("audit", "verify", "--api-key", KEYS["root"])
    assert result.code == 1
    assert "expected entry 2" in result.out
    assert "does not verify" in result.err

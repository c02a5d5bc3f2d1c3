"""``metaxy auth`` (keys and their hashes), ``--api-key`` and ``metaxy audit``."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest

from metaxy.stores.wrappers.auth import APIKeyBackend, RolesTable


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

"""Errors: one line plus a hint on stderr, the documented exit codes, a traceback only with --debug."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("project")


def test_unknown_feature_is_a_user_error_with_a_hint(run: Any) -> None:
    result = run("show", "video/nope")
    assert result.code == 1
    assert result.out == ""
    assert result.err.splitlines() == [
        "Error: Feature 'video/nope' is not in the feature graph.",
        "Hint: Import the module defining it (or list it in entrypoints); known: video/faces, video/raw, "
        "video/transcript",
    ]


def test_debug_adds_the_traceback(run: Any) -> None:
    result = run("--debug", "show", "video/nope")
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.err
    assert result.err.rstrip().splitlines()[-1].startswith("Hint: ")


def test_usage_errors_exit_with_2(run: Any) -> None:
    assert run("no-such-command").code == 2
    assert run("list", "--no-such-option").code == 2
    assert run("graph", "--format", "png").code == 2


def test_help_exits_0(run: Any) -> None:
    result = run("--help")
    assert result.code == 0
    for command in ("list", "show", "graph", "status", "search", "stats", "metadata"):
        assert command in result.out


def test_bad_config_names_the_key_and_the_file(run: Any, project: Path) -> None:
    (project / "metaxy.toml").write_text('store = "dev"\nbogus = 1\n[stores.dev]\ntype = "memory"\n')
    result = run("list")
    assert result.code == 1
    assert result.err.splitlines()[0] == (
        "Error: Invalid configuration key 'bogus' in <project>/metaxy.toml: unknown setting."
    )


def test_unknown_store_is_refused_before_anything_runs(run: Any) -> None:
    result = run("--store", "nope", "status")
    assert result.code == 1
    assert result.err.splitlines() == [
        "Error: There is no store named 'nope' in <project>/metaxy.toml.",
        "Hint: Configured stores: dev, prod, scratch.",
    ]


def test_an_unexpected_exception_exits_with_3_and_no_traceback(run: Any, project: Path) -> None:
    (project / "pipeline" / "broken.py").write_text(
        "import metaxy as mx\n\n\n"
        "class BrokenStore(mx.InMemoryMetadataStore):\n"
        "    def _open_backend(self) -> None:\n"
        "        raise RuntimeError('disk on fire')\n"
    )
    config = project / "metaxy.toml"
    config.write_text(config.read_text() + '\n[stores.broken]\ntype = "pipeline.broken:BrokenStore"\n')
    result = run("--store", "broken", "status")
    assert result.code == 3
    assert result.err.splitlines() == [
        "Error: Unexpected RuntimeError: disk on fire",
        "Hint: This is a bug in metaxy or a plugin; rerun with --debug for the traceback and report it.",
    ]

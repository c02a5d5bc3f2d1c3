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


#: the CLI rows of the bad-input catalogue (tests/stores/test_bad_input.py has the store rows):
#: name, text appended to metaxy.toml, arguments, expected exit code, a phrase of the "Error:" line
CLI_CASES = [
    (
        "sqlalchemy-not-a-url",
        '[stores.bad]\ntype = "sqlalchemy"\nconnection_url = "not a url"\n',
        ["--store", "bad", "status"],
        1,
        "not a usable SQLAlchemy URL",
    ),
    (
        "sqlalchemy-unreachable",
        '[stores.bad]\ntype = "sqlalchemy"\nconnection_url = "postgresql+psycopg://u@127.0.0.1:9/db"\n',
        ["--store", "bad", "status"],
        1,
        "connecting failed",
    ),
    (
        "duckdb-a-directory",
        '[stores.bad]\ntype = "duckdb"\ndb_path = "pipeline"\n',
        ["--store", "bad", "status"],
        1,
        "is a directory",
    ),
    (
        "duckdb-not-a-duckdb-file",
        '[stores.bad]\ntype = "duckdb"\ndb_path = "metaxy.toml"\n',
        ["--store", "bad", "status"],
        1,
        "not a DuckDB database",
    ),
    (
        "delta-root-is-a-file",
        '[stores.bad]\ntype = "delta"\ntable_uri = "metaxy.toml"\n',
        ["--store", "bad", "status"],
        1,
        "not a directory",
    ),
    (
        "unknown-hash-algorithm",
        '[stores.bad]\ntype = "memory"\nhash_algorithm = "crc7"\n',
        ["--store", "bad", "status"],
        1,
        "crc7",
    ),
    (
        "fallback-cycle",
        '[stores.bad]\ntype = "memory"\nfallback_stores = ["bad"]\n',
        ["--store", "bad", "status"],
        1,
        "cycle",
    ),
    ("unknown-store-type", '[stores.bad]\ntype = "oracle"\n', ["--store", "bad", "status"], 1, "oracle"),
    (
        "unknown-store-option",
        '[stores.bad]\ntype = "memory"\ncolour = "red"\n',
        ["--store", "bad", "status"],
        1,
        "colour",
    ),
    ("unknown-feature", "", ["show", "video/nope"], 1, "video/nope"),
    ("invalid-feature-key", "", ["show", "Video Raw!"], 1, "Video Raw!"),
]


@pytest.mark.parametrize(
    ("config", "args", "code", "phrase"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_a_user_mistake_is_one_line_and_a_hint_never_a_bug(
    run: Any, project: Path, config: str, args: list[str], code: int, phrase: str
) -> None:
    path = project / "metaxy.toml"
    path.write_text(path.read_text() + "\n" + config)
    result = run(*args)
    lines = result.err.splitlines()
    assert result.code == code, result.err
    assert len(lines) == 2, result.err
    assert lines[0].startswith("Error: ")
    assert phrase in lines[0]
    assert lines[1].startswith("Hint: ")
    assert "bug in metaxy" not in result.err


def test_an_entrypoint_that_fails_to_import_blames_the_module_not_metaxy(run: Any, project: Path) -> None:
    (project / "pipeline" / "features.py").write_text("raise NameError('oops in the project')\n")
    result = run("list")
    assert result.code == 1
    assert result.err.splitlines() == [
        "Error: Entrypoint 'pipeline.features' ('entrypoints.0' in <project>/metaxy.toml) raised NameError "
        "while importing: oops in the project.",
        "Hint: Fix the error in that module (rerun with --debug for the traceback).",
    ]


def test_a_hard_delete_filter_on_an_unknown_column_deletes_nothing(run: Any, seeded: Path) -> None:
    before = run("stats", "--format", "json").out
    result = run("metadata", "delete", "video/raw", "--hard", "--filter", "vlaue IS NOT NULL")
    assert result.code == 1
    assert "vlaue" in result.err.splitlines()[0]
    assert "bug in metaxy" not in result.err
    assert run("stats", "--format", "json").out == before

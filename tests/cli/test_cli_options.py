"""`--version`, `metaxy stores`, global options on either side of the command, choices in `--help`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import metaxy as mx


def test_version_prints_the_package_version(run: Any) -> None:
    result = run("--version")
    assert (result.code, result.out.strip()) == (0, f"metaxy {mx.__version__}")


def test_stores_lists_type_resolved_location_and_existence(run: Any, project: Path) -> None:
    (project / "sub").mkdir()
    result = run("stores", "--format", "json", "--config", str(project / "metaxy.toml"))
    assert result.code == 0, result.err
    stores = {s["name"]: s for s in json.loads(result.out)["stores"]}
    assert stores["dev"] == {
        "name": "dev",
        "type": "pipeline.parquet_store:ParquetDirMetadataStore",
        "location": "<project>/.metaxy/dev",
        "exists": False,
        "default": True,
        "fallback_stores": ["prod"],
    }
    assert (stores["scratch"]["location"], stores["scratch"]["exists"]) == (":memory:", True)
    assert not (project / ".metaxy").exists()  # listing creates nothing
    assert "dev (default)" in run("stores").out


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    "args",
    [
        ("--store", "prod", "status", "--format", "json"),
        ("status", "--store", "prod", "--format", "json"),
        ("status", "--format", "json", "--store=prod"),
        ("--format", "json", "status", "--store", "prod"),
        ("-f", "json", "--store", "prod", "status"),
    ],
)
def test_global_options_are_accepted_before_or_after_the_command(run: Any, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.code == 0, result.err
    assert json.loads(result.out)["store"] == "prod"


@pytest.mark.usefixtures("seeded")
def test_debug_and_config_after_the_command(run: Any, project: Path) -> None:
    result = run("show", "nope/nope", "--debug", "--config", str(project / "metaxy.toml"))
    assert result.code == 1
    assert "Traceback" in result.err


def test_a_global_option_value_equal_to_a_command_name_stays_a_value(run: Any) -> None:
    result = run("metadata", "delete", "video/raw", "--filter", "status = 'x'", "--store", "nowhere")
    assert result.code == 1
    assert "There is no store named 'nowhere'" in result.err


@pytest.mark.parametrize(
    ("command", "choices"), [("status", "text|json"), ("graph", "tree|mermaid|dot|json")]
)
def test_help_shows_the_choices_of_enum_options(run: Any, command: str, choices: str) -> None:
    result = run(command, "--help")
    assert result.code == 0
    assert f"<{choices}>" in result.out


def test_an_unknown_format_is_a_usage_error_naming_the_choices(run: Any) -> None:
    result = run("list", "--format", "yaml")
    assert result.code == 2
    assert "'yaml' is not one of 'text', 'json'" in result.err

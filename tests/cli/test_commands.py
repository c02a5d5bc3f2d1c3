"""Every command in-process on the sample project; outputs are snapshot-tested."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("seeded")


def as_json(text: str) -> Any:
    return json.loads(text)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_list_shows_features_upstream_first_with_versions(run: Any, snapshot: Any, fmt: str) -> None:
    result = run("list", "--format", fmt)
    assert result.code == 0, result.err
    assert result.out == snapshot


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_show_gives_fields_parents_lineage_and_store_presence(run: Any, snapshot: Any, fmt: str) -> None:
    result = run("show", "video/transcript", "--format", fmt)
    assert result.code == 0, result.err
    assert result.out == snapshot
    if fmt == "json":
        info = as_json(result.out)["feature"]
        assert info["fields"][0]["parents"] == ["video/raw.audio"]
        assert info["stores"] == [{"store": "dev", "samples": 3}, {"store": "prod", "samples": 0}]


@pytest.mark.parametrize("fmt", ["tree", "mermaid", "dot", "json"])
def test_graph_renders_in_every_format(run: Any, snapshot: Any, fmt: str) -> None:
    result = run("graph", "--format", fmt)
    assert result.code == 0, result.err
    assert result.out == snapshot


def test_graph_around_one_feature_keeps_only_its_neighbourhood(run: Any) -> None:
    nodes = as_json(run("graph", "video/faces", "--format", "json").out)["nodes"]
    assert [n["key"] for n in nodes] == ["video/raw", "video/faces"]


def test_search_ranks_key_matches_before_description_matches(run: Any, snapshot: Any) -> None:
    result = run("search", "audio", "--format", "json")
    assert result.code == 0, result.err
    ranked = [r["feature"] for r in as_json(result.out)["results"]]
    assert ranked == ["video/raw", "video/transcript"]  # a field named audio beats a description
    assert result.out == snapshot
    assert run("search", "transcript").out == snapshot


def test_search_with_no_match_says_so(run: Any) -> None:
    result = run("search", "nothing-like-this")
    assert (result.code, result.out.strip()) == (0, "No feature matches 'nothing-like-this'.")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_status_counts_new_stale_and_orphaned(run: Any, snapshot: Any, fmt: str) -> None:
    result = run("status", "--format", fmt)
    assert result.code == 0, result.err
    assert result.out == snapshot
    if fmt == "json":
        rows = {r["feature"]: r for r in as_json(result.out)["features"]}
        assert (rows["video/transcript"]["new"], rows["video/transcript"]["stale"]) == (1, 1)
        assert rows["video/faces"]["new"] == 4


def test_status_assert_in_sync_fails_while_work_remains(run: Any) -> None:
    result = run("status", "--assert-in-sync")
    assert result.code == 1
    assert run("status", "video/raw", "--assert-in-sync").code == 0  # the root alone is in sync


def test_stats_reports_rows_versions_and_last_materialization(run: Any, snapshot: Any) -> None:
    result = run("stats", "--format", "json")
    assert result.code == 0, result.err
    rows = {r["feature"]: r for r in as_json(result.out)["features"]}
    assert (rows["video/raw"]["samples"], rows["video/raw"]["rows"]) == (4, 5)
    assert rows["video/faces"]["last_materialized_at"] is None
    assert result.out == snapshot
    assert run("stats").out == snapshot


def test_soft_delete_with_filter_makes_the_samples_new_again(run: Any, snapshot: Any) -> None:
    result = run("metadata", "delete", "video/transcript", "--filter", "video_id = 'v2'")
    assert (result.code, result.out) == snapshot
    status = as_json(run("status", "video/transcript", "--format", "json").out)["features"]
    assert (status[-1]["new"], status[-1]["stale"]) == (2, 1)


def test_hard_delete_removes_every_row(run: Any) -> None:
    result = run("metadata", "delete", "video/transcript", "--hard", "--yes", "--format", "json")
    assert as_json(result.out)["deleted"] == 3
    rows = as_json(run("stats", "video/transcript", "--format", "json").out)["features"]
    assert rows[0]["rows"] == 0


def test_delete_without_filter_needs_yes(run: Any) -> None:
    result = run("metadata", "delete", "video/transcript")
    assert result.code == 1
    assert result.err.splitlines() == [
        "Error: Refusing to delete every sample of 'video/transcript' without --yes.",
        "Hint: Pass --filter to choose samples, or --yes to delete them all.",
    ]


def test_unparsable_filter_is_a_usage_error(run: Any) -> None:
    result = run("metadata", "delete", "video/transcript", "--filter", "video_id = = 'v1'")
    assert result.code == 2
    assert "Invalid value for --filter: \"video_id = = 'v1'\" is not a SQL condition" in result.err


def test_filter_on_an_unknown_column_is_a_user_error_and_deletes_nothing(run: Any) -> None:
    result = run("metadata", "delete", "video/transcript", "--filter", "colour = 'red'", "--hard")
    assert result.code == 1
    assert result.err.startswith("Error: dev, feature 'video/transcript': filter ")
    assert "names column(s) 'colour'" in result.err
    assert result.err.splitlines()[-1].startswith("Hint: Check the spelling")
    assert json.loads(run("stats", "video/transcript", "--format", "json").out)["features"][0]["rows"] == 3


def test_copy_moves_latest_rows_between_configured_stores(run: Any, snapshot: Any) -> None:
    result = run("metadata", "copy", "--from", "dev", "--to", "prod")
    assert (result.code, result.out) == snapshot
    shown = as_json(run("--store", "prod", "show", "video/raw", "--format", "json").out)
    assert shown["feature"]["stores"] == [{"store": "prod", "samples": 4}]

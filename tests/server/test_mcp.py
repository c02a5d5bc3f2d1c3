"""``metaxy mcp``: an in-process MCP client lists the tools and calls each; one call over real stdio."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

import metaxy as mx
from metaxy.config import load_config, load_entrypoints
from metaxy.server.browse import MetadataBrowser
from metaxy.server.mcp_server import build_mcp_server
from metaxy.stores.registry import store_from_config
from tests.server.conftest import project_env

TOOLS = [
    "describe_feature",
    "diff_snapshots",
    "feature_status",
    "list_features",
    "list_snapshots",
    "lookup_sample",
    "show_graph",
]


@pytest.fixture(scope="module")
def browser(web_project: Path) -> Iterator[MetadataBrowser]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(web_project)
        patch.syspath_prepend(str(web_project))
        graph = mx.FeatureGraph()
        with graph.use():
            config = load_config()
            load_entrypoints(config)
        with store_from_config(config, read_only=True) as store:
            yield MetadataBrowser(store, graph)
        for name in [m for m in sys.modules if m.split(".")[0] == "webdemo"]:
            del sys.modules[name]


def calls(browser: MetadataBrowser, *requests: tuple[str, dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """The tools the server lists, and the result of each (name, arguments) call, in one session."""

    async def session() -> tuple[list[Any], list[Any]]:
        async with Client(build_mcp_server(browser)) as client:
            listed = (await client.list_tools()).tools
            return listed, [await client.call_tool(name, args) for name, args in requests]

    return anyio.run(session)


def payload(result: Any) -> Any:
    assert not result.is_error, result.content
    text = result.content[0].text
    return json.loads(text) if text.startswith(("{", "[")) else text


def test_the_tools_are_listed_read_only_with_descriptions(browser: MetadataBrowser) -> None:
    tools, _ = calls(browser)
    assert sorted(t.name for t in tools) == TOOLS
    for tool in tools:
        assert tool.annotations.read_only_hint is True, tool.name
        assert tool.description, tool.name
    schema = next(t for t in tools if t.name == "lookup_sample").input_schema
    assert schema["required"] == ["ids"]


def test_each_tool_answers(browser: MetadataBrowser) -> None:
    _, results = calls(
        browser,
        ("list_features", {"query": "faces"}),
        ("describe_feature", {"key": "video/transcript"}),
        ("feature_status", {"features": ["video/raw", "video/transcript"]}),
        ("lookup_sample", {"ids": {"sample_uid": "2"}}),
        ("show_graph", {"format": "mermaid"}),
        ("show_graph", {"feature": "video/faces"}),
        ("list_snapshots", {}),
        ("diff_snapshots", {}),
    )
    found, feature, status, lookup, mermaid, graph, snapshots, diff = map(payload, results)
    assert [f["key"] for f in found["items"]] == ["video/faces"]
    assert feature["upstream"] == ["video/raw"]
    assert [(f["feature"], f["state"]) for f in status["features"]] == [
        ("video/raw", "in-sync"),
        ("video/transcript", "to-do"),
    ]
    states = {f["feature"]: f["status"] for f in lookup["features"]}
    assert (states["video/raw"], states["video/transcript"], states["video/faces"]) == (
        "current",
        "stale",
        "new",
    )
    assert mermaid.startswith("flowchart LR")
    assert {n["key"] for n in graph["nodes"]} >= {"video/raw", "video/faces"}
    assert snapshots["snapshots"][0]["is_current"] is True
    assert diff["changed"] == []


def test_errors_reach_the_client_with_their_hint(browser: MetadataBrowser) -> None:
    _, (unknown, bad_ids) = calls(
        browser, ("describe_feature", {"key": "video/nope"}), ("lookup_sample", {"ids": {"clip": "1"}})
    )
    assert unknown.is_error
    assert "not in the feature graph" in unknown.content[0].text
    assert "Hint:" in unknown.content[0].text
    assert bad_ids.is_error
    assert "sample_uid" in bad_ids.content[0].text


def test_metaxy_mcp_speaks_json_rpc_on_stdio(web_project: Path) -> None:
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    # stdin stays open until both answers are in: at end of input the server cancels what is in flight
    process = subprocess.Popen(
        [sys.executable, "-m", "metaxy.cli", "mcp"],
        cwd=web_project,
        env=project_env(web_project),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    answers: dict[int, Any] = {}
    try:
        for message in messages:
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
            if "id" in message:
                answer = json.loads(process.stdout.readline() or "{}")
                answers[answer.get("id", -1)] = answer
    finally:
        process.stdin.close()
        process.wait(timeout=120)
        process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()
    assert answers[1]["result"]["serverInfo"]["name"] == "metaxy", answers
    assert sorted(t["name"] for t in answers[2]["result"]["tools"]) == TOOLS

"""The HTTP API, route by route, against a real ``metaxy serve`` on a loopback port.

Every answer is checked against the response schema the server publishes in its OpenAPI document.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from metaxy.stores.wrappers.auth import generate_api_key, hash_api_key
from tests.server.conftest import Served, start_server, stop_server


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def openapi(server: Served) -> dict[str, Any]:
    status, document = get(server.url + "api/openapi.json")
    assert status == 200
    return document


def check_schema(openapi: dict[str, Any], path: str, status: int, body: Any) -> None:
    """``body`` fits the schema the OpenAPI document gives for ``path`` and ``status``."""
    schema = openapi["paths"][path]["get"]["responses"][str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": openapi["components"]})


def call(server: Served, openapi: dict[str, Any], route: str, path: str, *, status: int = 200) -> Any:
    code, body = get(server.url + route.lstrip("/"))
    assert code == status, body
    check_schema(openapi, path, status, body)
    return body


def test_openapi_lists_every_route_and_only_gets(openapi: dict[str, Any]) -> None:
    assert sorted(openapi["paths"]) == [
        "/api/diff",
        "/api/features",
        "/api/features/{key}",
        "/api/graph",
        "/api/graph/mermaid",
        "/api/lookup",
        "/api/snapshots",
        "/api/status",
    ]
    assert {method for route in openapi["paths"].values() for method in route} == {"get"}


def test_features_pages_search_and_prefix(server: Served, openapi: dict[str, Any]) -> None:
    page = call(server, openapi, "/api/features?limit=2", "/api/features")
    assert page["total"] == 58
    assert [f["key"] for f in page["items"]] == ["video/raw", "video/transcript"]
    rest = call(server, openapi, "/api/features?limit=500&offset=55", "/api/features")
    assert len(rest["items"]) == 3
    found = call(server, openapi, "/api/features?q=speech", "/api/features")
    assert [f["key"] for f in found["items"]] == ["video/transcript"]
    assert found["items"][0]["matches"]
    prefixed = call(server, openapi, "/api/features?prefix=video/&limit=10", "/api/features")
    assert sorted(f["key"] for f in prefixed["items"]) == ["video/faces", "video/raw", "video/transcript"]


def test_one_feature_has_fields_deps_both_ways_schema_stats_and_status(
    server: Served, openapi: dict[str, Any]
) -> None:
    info = call(server, openapi, "/api/features/video/transcript", "/api/features/{key}")
    assert info["deps"][0]["feature"] == "video/raw"
    assert info["upstream"] == ["video/raw"]
    assert "chain/step-00" in info["downstream"]
    assert info["fields"][0]["parents"] == ["video/raw.audio"]
    assert info["schema"]["properties"]["text"]["type"] == "string"
    assert info["stored_schema"]["text"] == "String"
    assert (info["stats"]["samples"], info["stats"]["rows"]) == (2, 2)
    assert info["status"] | {"feature": "-"} == {
        "feature": "-",
        "root": False,
        "stored": 2,
        "new": 1,
        "stale": 1,
        "orphaned": 0,
        "state": "to-do",
        "unit": "samples",
        "failed": 0,
    }


def test_graph_as_json_and_mermaid(server: Served, openapi: dict[str, Any]) -> None:
    graph = call(server, openapi, "/api/graph", "/api/graph")
    assert len(graph["nodes"]) == 58
    assert {"from": "video/raw", "to": "video/transcript"} in graph["edges"]
    around = call(server, openapi, "/api/graph?feature=video/faces", "/api/graph")
    assert "video/transcript" not in {n["key"] for n in around["nodes"]}
    mermaid = call(server, openapi, "/api/graph/mermaid", "/api/graph/mermaid")["mermaid"]
    assert mermaid.startswith("flowchart LR")
    assert "video_raw --> video_transcript" in mermaid


def test_status_counts_per_feature(server: Served, openapi: dict[str, Any]) -> None:
    status = call(server, openapi, "/api/status", "/api/status")
    assert status["in_sync"] is False
    states = {f["feature"]: f["state"] for f in status["features"]}
    assert (states["video/raw"], states["video/transcript"], states["chain/step-05"]) == (
        "in-sync",
        "to-do",
        "upstream-missing",
    )
    one = call(server, openapi, "/api/status?feature=video/raw", "/api/status")
    assert [f["feature"] for f in one["features"]] == ["video/raw"]


def test_snapshots_and_diff(server: Served, openapi: dict[str, Any]) -> None:
    history = call(server, openapi, "/api/snapshots", "/api/snapshots")
    assert [s["is_current"] for s in history["snapshots"]] == [True]
    diff = call(server, openapi, "/api/diff", "/api/diff")
    assert diff["old_project_version"] == diff["new_project_version"] == history["current"]
    assert diff["changed"] == []
    call(server, openapi, "/api/diff?old=ffffffff", "/api/diff", status=404)


def test_lookup_reports_each_feature_keyed_by_the_ids(server: Served, openapi: dict[str, Any]) -> None:
    found = call(server, openapi, "/api/lookup?sample_uid=2", "/api/lookup")
    by_feature = {f["feature"]: f for f in found["features"]}
    assert len(by_feature) == 58
    assert by_feature["video/raw"]["status"] == "current"
    assert by_feature["video/raw"]["sample"] == {"sample_uid": 2}  # "2" from the URL, an integer id
    transcript = by_feature["video/transcript"]  # video 2's audio changed after its transcript was written
    assert (transcript["status"], transcript["stale_fields"]) == ("stale", ["text"])
    assert transcript["reason"] == "field 'text': upstream video/raw.audio changed"
    assert by_feature["video/faces"]["status"] == "new"
    assert by_feature["chain/step-05"]["status"] == "upstream-missing"
    missing = call(server, openapi, "/api/lookup?sample_uid=99", "/api/lookup")
    assert {f["status"] for f in missing["features"]} == {"absent", "upstream-missing"}
    call(server, openapi, "/api/lookup?clip_id=1", "/api/lookup", status=400)


@pytest.mark.parametrize(
    ("route", "path", "status", "error"),
    [
        ("/api/features/video/nope", "/api/features/{key}", 404, "UnknownFeatureError"),
        ("/api/features?limit=501", "/api/features", 422, "RequestError"),
        ("/api/features?limit=0", "/api/features", 422, "RequestError"),
        ("/api/lookup", "/api/lookup", 400, "RequestError"),
    ],
)
def test_errors_are_json_with_status_and_hint(
    server: Served, openapi: dict[str, Any], route: str, path: str, status: int, error: str
) -> None:
    body = call(server, openapi, route, path, status=status)
    assert body["status"] == status
    assert body["error"]["type"] == error
    assert body["error"]["hint"]


def test_no_route_writes(server: Served) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        code, body = get(server.url + "api/features", method=method)
        assert code == 405, method
        assert "read-only" in body["error"]["hint"]
    assert get(server.url + "api/nothing-here")[0] == 404


@pytest.fixture(scope="module")
def keyed(web_project: Path) -> Iterator[Served]:
    served = start_server(web_project, "--api-key", "s3cret")
    yield served
    stop_server(served)


def test_an_api_key_is_required_when_configured(keyed: Served) -> None:
    code, body = get(keyed.url + "api/features")
    assert code == 401
    assert body["error"]["hint"].startswith("Send the key")
    assert get(keyed.url + "api/status", {"X-API-Key": "wrong"})[0] == 401
    assert get(keyed.url + "api/status", {"X-API-Key": "s3cret"})[0] == 200
    assert get(keyed.url + "api/status", {"Authorization": "Bearer s3cret"})[0] == 200
    with urllib.request.urlopen(keyed.url, timeout=60) as page:  # the page itself carries no data
        assert page.status == 200


@pytest.fixture(scope="module")
def secured(web_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str, str]]:
    """The project with a ``[security]`` table: ``dashboard`` may read, ``loader`` may only write."""
    root = tmp_path_factory.mktemp("secured") / "project"
    shutil.copytree(web_project, root)
    reader, writer = generate_api_key(), generate_api_key()
    with (root / "metaxy.toml").open("a") as config:
        config.write(
            "\n[security.roles.reader]\nread = ['*']\n\n[security.roles.loader]\nwrite = ['video/*']\n\n"
            f"[security.principals.dashboard]\nroles = ['reader']\napi_key_hash = '{hash_api_key(reader)}'\n\n"
            f"[security.principals.loader]\nroles = ['loader']\napi_key_hash = '{hash_api_key(writer)}'\n"
        )
    served = start_server(root)
    yield served, reader, writer
    stop_server(served)


def test_with_security_principals_authenticate_and_need_read(secured: tuple[Served, str, str]) -> None:
    served, reader, writer = secured
    assert get(served.url + "api/status")[0] == 401
    assert get(served.url + "api/status", {"X-API-Key": "mxk_guess"})[0] == 401
    code, body = get(served.url + "api/status", {"X-API-Key": writer})
    assert code == 403
    assert "'loader' may not read" in body["error"]["message"]
    code, body = get(served.url + "api/features/video/raw", {"Authorization": f"Bearer {reader}"})
    assert code == 200
    assert body["key"] == "video/raw"

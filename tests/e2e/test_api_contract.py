"""The calls documented for the API's users, played as written against the local runtime over HTTP.

Each case sends the documented request and checks the fields of the documented answer (more
fields may come; these must). DeepWiki is a server on loopback that publishes DeepWiki's tools
and wants the connection's key as a bearer token, as mcp-config.yaml configures DeepWiki; the
seeded `deepwiki` server reaches it through `DEEPWIKI_MCP_URL`.

The teams calls are skipped while template.yaml has no route for them, and run as soon as it has.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest

from infra.local.postgres import LocalDatabase
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from infra.template import functions, load_template
from tests.e2e.conftest import runtime_database_url
from tests.fakes.mcp_servers import DEEPWIKI_TOOLS, LoopbackServer, deepwiki_app, require_bearer
from tests.support.runtime import ROOT, local_runtime_with_deepwiki

DEEPWIKI_KEY = "dw-contract-0123456789abcdef"

CONNECT = {"server_type": "deepwiki", "credentials": {"api_key": DEEPWIKI_KEY}}
ASK = {"repo_name": "facebook/react", "question": "How do I use React hooks?"}
TEAM = {
    "team_name": "Research Team",
    "description": "Collaborative research agents",
    "collaboration_mode": "sequential",
}
# The smallest team that can run: executing one that cannot (no members) is a 422.
RUNNABLE_TEAM = {
    "team_name": "Research Pair",
    "description": "Two agents who take turns",
    "collaboration_mode": "round_robin",
    "members": [
        {"name": "researcher", "description": "Finds the facts"},
        {"name": "writer", "description": "Writes the summary"},
    ],
}
TEAM_TASK = {
    "task_description": "Research the latest WebRTC standards and create a summary",
    "additional_context": {"focus_areas": ["security", "performance"]},
}


@cache
def routes() -> frozenset[tuple[str, str]]:
    template = load_template(ROOT / "template.yaml")
    return frozenset((route.method, route.path) for spec in functions(template) for route in spec.routes)


def needs_route(method: str, path: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        (method, path) not in routes(),
        reason=f"{method} {path} is not a route of template.yaml yet (the teams API comes later)",
    )


@pytest.fixture(scope="module")
def deepwiki() -> Iterator[LoopbackServer]:
    with LoopbackServer(require_bearer(deepwiki_app(), DEEPWIKI_KEY), name="contract-deepwiki") as server:
        yield server


@pytest.fixture(scope="module")
def local_runtime(database: LocalDatabase, deepwiki: LoopbackServer) -> Iterator[LocalRuntime]:
    with local_runtime_with_deepwiki(runtime_database_url(database), deepwiki.url) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def user() -> dict[str, str]:
    """One user for the module's calls, in the order a user makes them."""
    return {"Authorization": f"Bearer {mint_dev_token(f'contract-{uuid.uuid4().hex[:12]}')}"}


@pytest.fixture(scope="module")
def connection(local_runtime: LocalRuntime, user: dict[str, str], deepwiki: LoopbackServer) -> dict[str, Any]:
    """`POST /api/v1/mcp/connect` as documented, once for the module."""
    before = len(deepwiki.log.requests)
    answer = httpx.post(local_runtime.url + "/api/v1/mcp/connect", headers=user, json=CONNECT, timeout=30)
    assert answer.status_code == 201, answer.text
    received = {seen.headers.get("authorization") for seen in deepwiki.log.requests[before:]}
    return {"answer": answer.json(), "authorizations": received}


def test_health(api: httpx.Client, user: dict[str, str]) -> None:
    answer = api.get("/health")
    detailed = api.get("/health", headers=user)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ok" and body["version"] and body["schema_version"]
    assert body["details"] is None
    details = detailed.json()["details"]
    assert details["database"]["status"] == "ok" and details["configuration"]["status"] == "ok"


def test_the_mcp_endpoints_tell_clients_how_to_sign_in(
    api: httpx.Client, local_runtime: LocalRuntime
) -> None:
    # docs/api.md: the endpoint's 401 names its metadata, an open route with five fields.
    refused = api.post("/mcp/gateway", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    metadata = api.get("/.well-known/oauth-protected-resource/mcp/gateway")

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{local_runtime.url}/.well-known/oauth-protected-resource/mcp/gateway"'
    )
    assert metadata.status_code == 200, metadata.text
    assert set(metadata.json()) == {
        "resource",
        "authorization_servers",
        "scopes_supported",
        "bearer_methods_supported",
        "resource_name",
    }
    assert metadata.json()["resource"] == f"{local_runtime.url}/mcp/gateway"


def test_connect_deepwiki_with_an_api_key(connection: dict[str, Any]) -> None:
    body = connection["answer"]

    assert body["connection_id"]
    assert body["status"] == "connected"
    assert body["server_type"] == "deepwiki"
    assert body["server_name"] == "DeepWiki"
    assert body["capabilities"] == list(DEEPWIKI_TOOLS)
    assert "tools" in body["server_capabilities"]
    assert DEEPWIKI_KEY not in str(body)


def test_the_key_reaches_deepwiki_as_configured(connection: dict[str, Any]) -> None:
    # mcp-config.yaml: deepwiki's auth is `kind: bearer`.
    assert connection["authorizations"] == {f"Bearer {DEEPWIKI_KEY}"}


def test_connections(api: httpx.Client, user: dict[str, str], connection: dict[str, Any]) -> None:
    answer = api.get("/api/v1/mcp/connections", headers=user)

    assert answer.status_code == 200, answer.text
    (listed,) = answer.json()["connections"]
    assert listed["connection_id"] == connection["answer"]["connection_id"]
    assert (listed["status"], listed["server_name"]) == ("connected", "DeepWiki")
    assert listed["capabilities"] == list(DEEPWIKI_TOOLS)


def test_deepwiki_ask(api: httpx.Client, user: dict[str, str], connection: dict[str, Any]) -> None:
    connection_id = connection["answer"]["connection_id"]

    answer = api.post("/api/v1/mcp/deepwiki/ask", headers=user, json={"connection_id": connection_id, **ASK})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["question"] == ASK["question"] and body["repo_name"] == ASK["repo_name"]
    # The fake DeepWiki's own answer, as it gave it: nothing made up around it.
    assert body["answer"] == "About facebook/react: How do I use React hooks? -> it is documented."


def test_usage_stats(api: httpx.Client, user: dict[str, str], connection: dict[str, Any]) -> None:
    api.post(
        "/api/v1/mcp/deepwiki/ask",
        headers=user,
        json={"connection_id": connection["answer"]["connection_id"], **ASK},
    ).raise_for_status()

    answer = api.get("/api/v1/mcp/usage/stats", headers=user)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["window_hours"] > 0 and body["since"]
    usage = {(row["server_name"], row["tool"]): row for row in body["usage"]}
    assert usage[("deepwiki", "ask_question")]["calls"] >= 1
    assert usage[("deepwiki", "ask_question")]["errors"] == 0


@needs_route("POST", "/api/v1/teams")
def test_create_a_team(api: httpx.Client, user: dict[str, str]) -> None:
    answer = api.post("/api/v1/teams", headers=user, json=TEAM)

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["team_id"]
    assert {key: body[key] for key in TEAM} == TEAM


@needs_route("POST", "/api/v1/teams/{team_id}/execute")
def test_execute_a_team(api: httpx.Client, user: dict[str, str]) -> None:
    team = api.post("/api/v1/teams", headers=user, json=RUNNABLE_TEAM)
    assert team.status_code == 201, team.text
    team_id = team.json()["team_id"]

    answer = api.post(f"/api/v1/teams/{team_id}/execute", headers=user, json=TEAM_TASK)

    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    followed = api.get(f"/api/v1/runs/{run_id}", headers=user)
    assert followed.status_code == 200, followed.text
    run = followed.json()
    assert (run["run_id"], run["kind"], run["team_id"]) == (run_id, "team", team_id)

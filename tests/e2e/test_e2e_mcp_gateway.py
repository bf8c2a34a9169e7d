"""The MCP gateway over HTTP against the local runtime: the hosted servers and a server of one's
own; the MCP endpoints as OAuth protected resources (their 401, their metadata, their tokens'
audience)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest

from infra.local.devsecrets import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_secrets
from infra.local.runtime import LocalRuntime
from infra.local.token import PROJECT_ROOT, mint_dev_token
from tests.fakes.mcp_servers import LoopbackServer, host_app, tools_app

MCP_ENDPOINTS = ["/mcp/gateway", "/mcp/memory", "/mcp/sequential-thinking"]
TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


@pytest.fixture(scope="module")
def own_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(tools_app(stateless=False), name="e2e-own") as server:
        yield server


@pytest.fixture(scope="module")
def shared_host() -> Iterator[LoopbackServer]:
    """MCP at /mcp, 404 on every other path."""
    with LoopbackServer(host_app(), name="e2e-host") as server:
        yield server


def headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token(user)}"}


def test_a_user_connects_the_hosted_memory_server_and_uses_it(api: httpx.Client, make_user_id) -> None:
    user = make_user_id("alice")

    connected = api.post("/api/v1/mcp/connect", headers=headers(user), json={"server_type": "memory"})
    created = api.post(
        "/api/v1/mcp/memory/create_entities",
        headers=headers(user),
        json={
            "arguments": {
                "entities": [{"name": "Ada", "entityType": "person", "observations": ["wrote code"]}]
            }
        },
    )
    graph = api.post("/api/v1/mcp/memory/read_graph", headers=headers(user), json={})
    other = api.post("/api/v1/mcp/memory/read_graph", headers=headers(make_user_id("bob")), json={})

    assert connected.status_code == 201, connected.text
    assert connected.json()["server_type"] == "memory" and connected.json()["tool_count"] == 9
    assert created.status_code == 200, created.text
    text = graph.json()["result"]["content"][0]["text"]
    assert [entity["name"] for entity in json.loads(text)["entities"]] == ["Ada"]
    assert other.status_code == 404  # bob has no memory connection, and could not see alice's graph anyway


def test_a_user_thinks_step_by_step(api: httpx.Client, make_user_id) -> None:
    user = make_user_id("thinker")
    assert (
        api.post(
            "/api/v1/mcp/connect", headers=headers(user), json={"server_type": "sequential-thinking"}
        ).status_code
        == 201
    )

    answer = api.post(
        "/api/v1/mcp/thinking",
        headers=headers(user),
        json={
            "arguments": {
                "thought": "Start",
                "thoughtNumber": 1,
                "totalThoughts": 2,
                "nextThoughtNeeded": True,
            }
        },
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["is_error"] is False


def test_a_user_connects_a_server_of_their_own_and_calls_a_tool(
    api: httpx.Client, make_user_id, own_server: LoopbackServer
) -> None:
    user = make_user_id("carol")

    connected = api.post(
        "/api/v1/mcp/connect",
        headers=headers(user),
        json={"server_type": "custom", "endpoint": own_server.url, "name": "mine"},
    )
    connection_id = connected.json()["connection_id"]
    called = api.post(
        f"/api/v1/mcp/connections/{connection_id}/tools/add/call",
        headers=headers(user),
        json={"arguments": {"a": 20, "b": 22}},
    )
    stats = api.get("/api/v1/mcp/usage/stats", headers=headers(user))

    assert connected.status_code == 201, connected.text
    assert called.status_code == 200 and called.json()["result"]["structured_content"] == {"sum": 42.0}
    assert {row["tool"] for row in stats.json()["usage"]} >= {"add"}


def test_the_registry_is_served(api: httpx.Client, make_user_id) -> None:
    servers = api.get("/api/v1/mcp/servers", headers=headers(make_user_id())).json()["servers"]
    memory = next(server for server in servers if server["name"] == "memory")
    assert memory["endpoint"].startswith("http://127.0.0.1:") and memory["endpoint"].endswith("/mcp/memory")


def test_ten_failing_connects_by_one_user_leave_the_host_to_another(
    api: httpx.Client, make_user_id, shared_host: LoopbackServer
) -> None:
    mallory, alice = make_user_id("mallory"), make_user_id("alice")
    wrong_path = shared_host.url_for("/nonexistent")

    failed = [
        api.post(
            "/api/v1/mcp/connect",
            headers=headers(mallory),
            json={"server_type": "custom", "endpoint": wrong_path},
        )
        for _ in range(10)
    ]
    connected = api.post(
        "/api/v1/mcp/connect",
        headers=headers(alice),
        json={"server_type": "custom", "endpoint": shared_host.url},
    )
    called = api.post(
        f"/api/v1/mcp/connections/{connected.json()['connection_id']}/tools/echo/call",
        headers=headers(alice),
        json={"arguments": {"text": "still here"}},
    )

    # Mallory's own circuit for the host opens after her first failures; nobody else's does.
    codes = [answer.json()["error"]["code"] for answer in failed]
    assert set(codes) == {"mcp_http_error", "circuit_open"} and codes[0] == "mcp_http_error", codes
    assert connected.status_code == 201, connected.text
    assert called.status_code == 200, called.text
    assert called.json()["result"]["content"] == [{"type": "text", "text": "still here"}]


def dev_signed(sub: str, **claims: Any) -> str:
    """A token signed with the local runtime's key, with the given claims over a dev token's."""
    now = int(time.time())
    body = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": sub, "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, ensure_dev_secrets(PROJECT_ROOT).jwt_secret, algorithm="HS256")


def mcp_post(api: httpx.Client, path: str, token: str | None) -> httpx.Response:
    sent = dict(MCP_HEADERS)
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return api.post(path, headers=sent, json=TOOLS_LIST)


@pytest.mark.parametrize("path", MCP_ENDPOINTS)
def test_an_mcp_endpoint_without_a_token_points_to_its_resource_metadata(
    api: httpx.Client, local_runtime: LocalRuntime, path: str
) -> None:
    refused = mcp_post(api, path, None)

    # RFC 6750 §3.1: no error code when no token was sent.
    metadata_url = f"{local_runtime.url}/.well-known/oauth-protected-resource{path}"
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata_url}"'
    assert refused.json()["error"]["data"] == {"code": "token_missing"}


# Tokens are signed when the test runs, not at collection: they would expire before a late test.
@pytest.mark.parametrize(
    ("token", "code"),
    [
        (lambda: "not-a-jwt", "token_malformed"),
        (lambda: dev_signed("mallory", aud="https://another-api.example"), "token_invalid_audience"),
        (lambda: dev_signed("mallory", aud="http://127.0.0.1:1/mcp/gateway"), "token_invalid_audience"),
    ],
    ids=["malformed", "another-audience", "another-resource"],
)
def test_a_refused_token_is_invalid_token_with_the_metadata(
    api: httpx.Client, local_runtime: LocalRuntime, token: Callable[[], str], code: str
) -> None:
    refused = mcp_post(api, "/mcp/gateway", token())

    metadata_url = f"{local_runtime.url}/.well-known/oauth-protected-resource/mcp/gateway"
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == (
        f'Bearer error="invalid_token", error_description="{code}", resource_metadata="{metadata_url}"'
    )


def test_a_token_for_the_endpoints_resource_is_accepted_there_only(
    api: httpx.Client, local_runtime: LocalRuntime, make_user_id
) -> None:
    user = make_user_id("resource")
    for_gateway = dev_signed(user, aud=f"{local_runtime.url}/mcp/gateway")

    at_the_gateway = mcp_post(api, "/mcp/gateway", for_gateway)
    at_memory = mcp_post(api, "/mcp/memory", for_gateway)
    at_the_api = api.get("/api/v1/me", headers={"Authorization": f"Bearer {for_gateway}"})
    with_a_dev_token = mcp_post(api, "/mcp/gateway", mint_dev_token(user))

    assert at_the_gateway.status_code == 200, at_the_gateway.text
    assert "tools" in at_the_gateway.json()["result"]
    assert at_memory.status_code == 401
    assert 'error_description="token_invalid_audience"' in at_memory.headers["www-authenticate"]
    assert at_the_api.status_code == 401  # the API's authorizer wants the API's own audience
    assert with_a_dev_token.status_code == 200, with_a_dev_token.text


@pytest.mark.parametrize("path", MCP_ENDPOINTS)
def test_each_endpoint_has_its_metadata_without_a_token(
    api: httpx.Client, local_runtime: LocalRuntime, path: str
) -> None:
    metadata_url = mcp_post(api, path, None).headers["www-authenticate"].split('resource_metadata="')[1][:-1]

    answer = api.get(metadata_url)

    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "public, max-age=3600"
    document = answer.json()
    assert document["resource"] == f"{local_runtime.url}{path}"
    assert document["authorization_servers"] == [DEV_ISSUER]
    assert document["scopes_supported"] == ["openid", "email"]
    assert document["bearer_methods_supported"] == ["header"]
    assert document["resource_name"].startswith("AuraLink")


def test_metadata_of_an_unknown_endpoint_is_refused(api: httpx.Client) -> None:
    answer = api.get("/.well-known/oauth-protected-resource/mcp/elsewhere")

    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["field"] == "path.server"

"""The MCP gateway over HTTP against the local runtime: the hosted servers and a server of one's own."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from infra.local.token import mint_dev_token
from tests.fakes.mcp_servers import LoopbackServer, host_app, tools_app


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

"""A user's own MCP endpoint: the tools of all their connections, through AuraLink's gateway."""

from __future__ import annotations

import json
from dataclasses import dataclass

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from auralink.db import tenant_transaction
from auralink.mcp import service_token
from tests.fakes.mcp_servers import FAILURE_TEXT, PROTECTED_TOKEN, LoopbackServer, tools_app
from tests.integration.mcp.hosted.conftest import MODES, text

pytestmark = pytest.mark.e2e

TAG = "X-Federated-Test"


@pytest.fixture
def calc_and_legacy(connect_server, user, stateless_mcp, legacy_mcp):
    connect_server(user, "calc", endpoint=stateless_mcp.url)
    connect_server(user, "legacy", endpoint=legacy_mcp.url)
    return user


@dataclass(frozen=True)
class Listing:
    tools: dict[str, types.Tool]
    server_name: str | None
    instructions: str | None


def listed(endpoint, token: str, mode: str) -> Listing:
    async def work(client: Client) -> Listing:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        server_name = None if client.server_info is None else client.server_info.name
        return Listing(tools, server_name, client.instructions)

    return endpoint.session(token, mode, work)


@pytest.mark.parametrize("mode", MODES)
def test_the_tools_of_every_connection_are_listed_under_their_connections_name(
    endpoint, calc_and_legacy, token_for, stateless_mcp, mode
):
    listing = listed(endpoint, token_for(calc_and_legacy), mode)
    tools = listing.tools

    add, echo = tools["calc__add"], tools["legacy__echo"]
    assert {"calc__echo", "legacy__add", "calc__fails"} <= tools.keys()
    assert all(name.split("__", 1)[0] in {"calc", "legacy"} for name in tools)
    assert add.description == "calc: Add two numbers; the sum comes back as structured content."
    assert echo.description == "legacy: Echo the text back."
    assert add.input_schema["properties"].keys() == {"a", "b"}
    assert add.input_schema["required"] == ["a", "b"]
    assert add.output_schema is not None and "sum" in add.output_schema["properties"]
    assert echo.input_schema["properties"]["text"]["type"] == "string"
    if mode == "legacy":  # the stateless revision has no handshake to carry them
        assert listing.server_name == "auralink"
        assert listing.instructions is not None and "<connection name>__<tool name>" in listing.instructions


@pytest.mark.parametrize("mode", MODES)
def test_a_call_reaches_the_connections_tool_and_is_logged(endpoint, calc_and_legacy, token_for, mode):
    user = calc_and_legacy

    added, failed = endpoint.calls(
        token_for(user), mode, [("calc__add", {"a": 2, "b": 3}), ("legacy__fails", {})]
    )

    assert not added.is_error and added.structured_content == {"sum": 5.0}
    assert json.loads(text(added)) == {"sum": 5.0}
    # The server's own tool error comes back as it was sent.
    assert failed.is_error and FAILURE_TEXT in text(failed)
    with tenant_transaction(user) as conn:
        rows = conn.execute(
            "SELECT l.tool, l.status, c.name FROM mcp_operation_logs l"
            " JOIN user_mcp_connections c ON c.id = l.connection_id"
            " WHERE l.operation = 'call_tool' ORDER BY l.created_at"
        ).fetchall()
    assert [(row["tool"], row["name"], row["status"]) for row in rows] == [
        ("add", "calc", "success"),
        ("fails", "legacy", "success"),
    ]


def test_another_user_sees_only_their_own_tools_and_cannot_call_the_first_users(
    endpoint, calc_and_legacy, connect_server, stateless_mcp, token_for, make_user_id
):
    stranger = make_user_id("stranger")
    connect_server(stranger, "mine", endpoint=stateless_mcp.url)

    tools = listed(endpoint, token_for(stranger), "2026-07-28").tools
    with pytest.raises(MCPError) as refused:
        endpoint.call(token_for(stranger), "2026-07-28", "calc__add", {"a": 1, "b": 1})

    assert tools and all(name.startswith("mine__") for name in tools)
    assert refused.value.code == INVALID_PARAMS
    assert refused.value.message == "Unknown tool: calc__add"


@pytest.mark.parametrize("name", ["calc__no_such_tool", "nowhere__add", "add"])
def test_an_unknown_tool_is_the_protocols_error(endpoint, calc_and_legacy, token_for, name):
    with pytest.raises(MCPError) as refused:
        endpoint.call(token_for(calc_and_legacy), "legacy", name, {})

    assert (refused.value.code, refused.value.message) == (INVALID_PARAMS, f"Unknown tool: {name}")


def test_gateway_failures_are_tool_errors_with_their_code(
    endpoint, calc_and_legacy, connect_server, token_for, stateless_mcp
):
    user = calc_and_legacy
    with LoopbackServer(tools_app(stateless=True), name="short-lived") as doomed:
        connect_server(user, "gone", endpoint=doomed.url)
    before = len(stateless_mcp.log.requests)

    unreachable, invalid = endpoint.calls(
        token_for(user), "2026-07-28", [("gone__echo", {"text": "hi"}), ("calc__add", {"a": "two", "b": 3})]
    )

    assert unreachable.is_error and text(unreachable).startswith("mcp_unreachable: ")
    assert invalid.is_error and text(invalid).startswith("invalid_tool_arguments: ")
    assert "arguments.a" in text(invalid)
    assert len(stateless_mcp.log.requests) == before  # invalid arguments never left AuraLink


def test_a_list_never_fetched_is_fetched_once(endpoint, connect_server, user, token_for, stateless_mcp):
    tag = f"never-fetched-{user}"
    connection = connect_server(user, "late", endpoint=stateless_mcp.url, credentials={"headers": {TAG: tag}})
    with tenant_transaction(user) as conn:
        conn.execute(
            "UPDATE user_mcp_connections SET tools = NULL, tools_fetched_at = NULL WHERE id = %s",
            (connection.connection_id,),
        )
    fetched_before = len(stateless_mcp.log.tagged(TAG, tag))

    first = listed(endpoint, token_for(user), "2026-07-28").tools
    fetched = len(stateless_mcp.log.tagged(TAG, tag))
    second = listed(endpoint, token_for(user), "legacy").tools

    assert "late__echo" in first and first.keys() == second.keys()
    assert fetched > fetched_before
    assert len(stateless_mcp.log.tagged(TAG, tag)) == fetched  # the second listing came from the cache


def test_a_hosted_server_is_federated_too(endpoint, connect_server, user, token_for):
    connect_server(user, "memory", server_type="memory")
    entity = {"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]}

    tools = listed(endpoint, token_for(user), "2026-07-28").tools
    created, graph = endpoint.calls(
        token_for(user),
        "2026-07-28",
        [("memory__create_entities", {"entities": [entity]}), ("memory__read_graph", {})],
    )

    assert {"memory__create_entities", "memory__read_graph"} <= tools.keys()
    assert not created.is_error
    assert json.loads(text(graph))["entities"] == [entity]


def test_a_gateway_service_token_is_refused(endpoint, in_process, user):
    token = service_token.mint(user)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

    at_the_api = endpoint.post(token, "POST", body)
    at_the_function = in_process.post(token, "POST", body)

    assert at_the_api.status_code == 401
    assert at_the_function.status_code == 401
    assert at_the_function.json()["error"]["data"] == {"code": "service_token_refused"}
    assert at_the_function.headers["www-authenticate"].startswith("Bearer ")


def test_without_a_token_the_answer_is_401_with_a_challenge(endpoint, in_process):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

    at_the_api = endpoint.post(None, "POST", body)
    at_the_function = in_process.post(None, "POST", body)

    assert at_the_api.status_code == 401 and at_the_api.headers["www-authenticate"].startswith("Bearer")
    assert at_the_function.status_code == 401
    assert at_the_function.headers["www-authenticate"].startswith("Bearer ")
    assert at_the_function.json()["error"]["data"] == {"code": "token_missing"}


def test_no_token_or_credential_reaches_a_reply_or_a_log(
    endpoint, connect_server, user, token_for, protected_mcp, logged
):
    connect_server(user, "locked", endpoint=protected_mcp.url, credentials={"token": PROTECTED_TOKEN})
    token = token_for(user)

    tools = listed(endpoint, token, "legacy").tools
    echoed, invalid = endpoint.calls(
        token, "2026-07-28", [("locked__echo", {"text": "hello"}), ("locked__add", {"a": "x", "b": 1})]
    )

    assert "locked__echo" in tools and text(echoed) == "hello" and invalid.is_error
    replies = json.dumps([tool.model_dump(mode="json") for tool in tools.values()]) + text(invalid)
    assert "locked__echo" in logged()  # the requests were logged, without what follows
    for secret in (PROTECTED_TOKEN, token):
        assert secret not in replies
        assert secret not in logged()

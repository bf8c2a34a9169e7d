"""MCP tool names of a workflow are checked against the caller's own connections and their tools."""

from __future__ import annotations

import pytest


def agent_workflow(*tools: str, tool_node: str | None = None) -> dict:
    nodes = [{"id": "work", "kind": "agent", "instructions": "Use your tools", "tools": list(tools)}]
    edges = [{"from": "work", "to": "END"}]
    if tool_node is not None:
        nodes.append(
            {"id": "once", "kind": "tool", "tool": tool_node, "arguments": {"text": "{outputs.work}"}}
        )
        edges = [{"from": "work", "to": "once"}, {"from": "once", "to": "END"}]
    return {"entry": "work", "nodes": nodes, "edges": edges}


@pytest.fixture
def connected(api, make_user_id, tools_mcp):
    """A user with a connection named "tools" to the loopback tools server."""
    user = make_user_id()
    status, body = api(
        "McpConnectFunction", user, body={"server_type": "custom", "endpoint": tools_mcp.url, "name": "tools"}
    )
    assert status == 201, body
    return user


def test_tools_of_a_connection_are_accepted(api, connected):
    status, body = api(
        "CreateWorkflowFunction",
        connected,
        body={
            "name": "echoes",
            "definition": agent_workflow("calculator", "mcp:tools/echo", tool_node="mcp:tools/add"),
        },
    )

    assert status == 201, body
    assert body["definition"]["nodes"][0]["tools"] == ["calculator", "mcp:tools/echo"]


@pytest.mark.parametrize(
    ("tools", "tool_node", "field", "message"),
    [
        (("mcp:tools/teleport",), None, "body.definition.nodes[0].tools[0]", "has no tool 'teleport'"),
        (
            ("calculator", "mcp:elsewhere/echo"),
            None,
            "body.definition.nodes[0].tools[1]",
            "no MCP connection named",
        ),
        (("calculator",), "mcp:tools/teleport", "body.definition.nodes[1].tool", "has no tool 'teleport'"),
    ],
)
def test_unknown_mcp_tools_are_422_naming_the_path(api, connected, tools, tool_node, field, message):
    status, body = api(
        "CreateWorkflowFunction",
        connected,
        body={"name": "broken", "definition": agent_workflow(*tools, tool_node=tool_node)},
    )

    assert status == 422
    (detail,) = body["error"]["details"]
    assert detail["field"] == field and message in detail["message"]


def test_another_users_connection_does_not_count(api, connected, make_user_id):
    status, body = api(
        "CreateWorkflowFunction",
        make_user_id("stranger"),
        body={"name": "borrowed", "definition": agent_workflow("mcp:tools/echo")},
    )

    assert status == 422
    assert body["error"]["details"] == [
        {
            "field": "body.definition.nodes[0].tools[0]",
            "message": "no MCP connection named 'tools': connect one with POST /api/v1/mcp/connect",
        }
    ]

"""A run step keeps one MCP session per server and connection: its tool calls shake hands once,
and the session is closed when the step ends."""

from __future__ import annotations

import uuid

from auralink.mcp.models import Credentials
from tests.integration.mcp.conftest import legacy_mcp  # noqa: F401  # a fixture
from tests.support.handlers import invoke


def _echo_node(node_id: str, text: str) -> dict[str, object]:
    return {"id": node_id, "kind": "tool", "tool": "mcp:legacy/echo", "arguments": {"text": text}}


def test_the_tool_calls_of_a_step_share_one_handshake(user, start, connect_server, legacy_mcp):  # noqa: F811
    tag = uuid.uuid4().hex  # this test's requests on the shared server
    connect_server(
        user,
        "custom",
        endpoint=legacy_mcp.url,
        name="legacy",
        credentials=Credentials(headers={"X-Test": tag}),
    )
    at_connect = len(
        [seen for seen in legacy_mcp.log.tagged("X-Test", tag) if seen.rpc_method == "initialize"]
    )
    definition = {
        "entry": "one",
        "nodes": [_echo_node("one", "1"), _echo_node("two", "2"), _echo_node("three", "3")],
        "edges": [
            {"from": "one", "to": "two"},
            {"from": "two", "to": "three"},
            {"from": "three", "to": "END"},
        ],
    }
    run_id = start(user, definition, {})

    reply = invoke("RunStepFunction", {"run_id": run_id, "user_id": user})

    assert reply["status"] == "succeeded", reply
    seen = legacy_mcp.log.tagged("X-Test", tag)
    calls = [request for request in seen if request.rpc_method == "tools/call"]
    handshakes = [request for request in seen if request.rpc_method == "initialize"]
    assert len(calls) == 3
    assert len(handshakes) - at_connect == 1
    # Closed at the end of the step: the connect's session and the step's each ended with a DELETE.
    assert len([request for request in seen if request.http_method == "DELETE"]) == 2

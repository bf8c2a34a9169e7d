"""The target's headers reach the server on every request, and nowhere else."""

from __future__ import annotations

import logging

import pytest

from auralink.mcp import client
from auralink.mcp.client import McpTarget
from auralink.mcp.errors import McpUpstreamError
from tests.fakes.mcp_servers import PROTECTED_TOKEN

DEADLINE_S = 5.0


@pytest.mark.parametrize("fixture", ["legacy_mcp", "stateless_mcp"])
def test_every_request_carries_the_targets_headers(request, tagged, fixture):
    server = request.getfixturevalue(fixture)
    call = tagged(server, headers={"Authorization": "Bearer abc", "X-Api-Key": "key-1"})

    client.call_tool(call.target, "echo", {"text": "x"}, deadline_s=DEADLINE_S)

    requests = server.log.tagged("X-Test-Request", call.tag)
    assert len(requests) >= 2  # probe or handshake, then the call (and a DELETE on the handshake)
    for seen in requests:
        assert seen.headers["authorization"] == "Bearer abc"
        assert seen.headers["x-api-key"] == "key-1"


def test_a_server_that_wants_a_token_gets_it(protected_mcp):
    target = McpTarget(protected_mcp.url, {"Authorization": f"Bearer {PROTECTED_TOKEN}"})

    info, tools = client.list_tools(target, deadline_s=DEADLINE_S)

    assert info.name == "stateless-tools" and tools


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}])
def test_without_the_right_token_the_credentials_are_refused(protected_mcp, headers):
    with pytest.raises(McpUpstreamError) as raised:
        client.call_tool(McpTarget(protected_mcp.url, headers), "echo", {"text": "x"}, deadline_s=DEADLINE_S)

    assert (raised.value.code, raised.value.retryable) == ("mcp_auth_failed", False)
    assert "wrong-token" not in str(raised.value)


def test_credentials_stay_out_of_logs_and_reprs(protected_mcp, caplog):
    caplog.set_level(logging.DEBUG)
    target = McpTarget(protected_mcp.url, {"Authorization": f"Bearer {PROTECTED_TOKEN}"})

    client.call_tool(target, "echo", {"text": "x"}, deadline_s=DEADLINE_S)

    assert caplog.records
    assert PROTECTED_TOKEN not in caplog.text
    assert PROTECTED_TOKEN not in repr(target)

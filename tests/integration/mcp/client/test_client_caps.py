"""Servers that send too much: the client counts on the wire, hangs up past the cap, and says so."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from auralink.config.models import ResponseCaps
from auralink.mcp import client
from auralink.mcp.client import McpTarget
from auralink.mcp.errors import McpUpstreamError
from tests.fakes.flood_server import FloodLog, flood_app
from tests.fakes.mcp_servers import FILLER_TOOLS, LoopbackServer

DEADLINE_S = 20.0
CAP = 256 * 1024


@pytest.fixture(scope="module")
def flood() -> Iterator[tuple[LoopbackServer, FloodLog]]:
    log = FloodLog()
    with LoopbackServer(flood_app(log), name="flood") as server:
        yield server, log


def _target(url: str, *, guarded: bool = False, **caps: int) -> McpTarget:
    return McpTarget(
        url, {}, "2026-07-28", ssrf_guard=guarded, caps=ResponseCaps(**{"max_response_bytes": CAP, **caps})
    )


def _hung_up(log: FloodLog, kind: str, before: int) -> bool:
    """Whether the server saw its endless answer's connection dropped (it notices within moments)."""
    for _ in range(500):
        if log.cut_off(kind) > before:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("guarded", [False, True], ids=["direct", "ssrf-guarded"])
@pytest.mark.parametrize("kind", ["list-json", "call-json", "call-sse", "error-json", "declared"])
def test_an_endless_answer_is_cut_at_the_cap_and_the_connection_dropped(
    flood, service_environment, kind, guarded
):
    # The guard lets loopback through in the development environment only.
    server, log = flood
    before = log.cut_off(kind)
    target = _target(server.url_for(f"/flood/{kind}/mcp"), guarded=guarded)

    with pytest.raises(McpUpstreamError) as raised:
        if kind == "list-json":
            client.list_tools(target, deadline_s=DEADLINE_S)
        else:
            client.call_tool(target, "echo", {"text": "x"}, deadline_s=DEADLINE_S)

    # Endless bodies: only a cut can end the call before its deadline, with this error.
    assert (raised.value.code, raised.value.retryable) == ("mcp_response_too_large", False)
    assert raised.value.details == {"max_response_bytes": CAP}
    assert _hung_up(log, kind, before)


def test_a_compressed_answer_is_refused(flood):
    server, _ = flood

    with pytest.raises(McpUpstreamError) as raised:
        client.call_tool(
            _target(server.url_for("/flood/gzip/mcp")), "echo", {"text": "x"}, deadline_s=DEADLINE_S
        )

    assert raised.value.code == "mcp_protocol_error"


def test_answers_under_the_cap_pass_and_count_every_answer_of_the_call(flood, stateless_mcp):
    server, _ = flood
    # The flood server's other methods are the tools server's: a normal call passes.
    result = client.call_tool(
        _target(server.url_for("/flood/list-json/mcp")), "add", {"a": 1, "b": 2}, deadline_s=DEADLINE_S
    )
    assert result.structured_content == {"sum": 3}

    # The whole list (several pages) is one call's answers: a cap that one page fits under
    # but the list does not refuses it.
    _, tools = client.list_tools(_target(stateless_mcp.url), deadline_s=DEADLINE_S)
    page_bytes = 8 * 1024
    with pytest.raises(McpUpstreamError) as raised:
        client.list_tools(_target(stateless_mcp.url, max_response_bytes=page_bytes), deadline_s=DEADLINE_S)
    assert raised.value.code == "mcp_response_too_large"
    assert len(tools) > FILLER_TOOLS


def test_a_tool_list_longer_than_the_cap_is_refused(stateless_mcp, legacy_mcp):
    for server, protocol in ((stateless_mcp, "2026-07-28"), (legacy_mcp, "2025-11-25")):
        target = McpTarget(server.url, {}, protocol, caps=ResponseCaps(max_tools=30))  # type: ignore[arg-type]
        with pytest.raises(McpUpstreamError) as raised:
            client.list_tools(target, deadline_s=DEADLINE_S)

        assert (raised.value.code, raised.value.details) == ("mcp_too_many_tools", {"max_tools": 30})


def test_tools_that_weigh_more_than_the_cap_are_refused(stateless_mcp):
    target = McpTarget(stateless_mcp.url, {}, "2026-07-28", caps=ResponseCaps(max_tool_schema_bytes=4096))

    with pytest.raises(McpUpstreamError) as raised:
        client.list_tools(target, deadline_s=DEADLINE_S)

    assert raised.value.code == "mcp_tool_schemas_too_large"
    assert raised.value.details == {"max_tool_schema_bytes": 4096}


def test_the_default_caps_take_the_reference_tools(stateless_mcp):
    _, tools = client.list_tools(McpTarget(stateless_mcp.url, {}, "2026-07-28"), deadline_s=DEADLINE_S)

    assert len(tools) > FILLER_TOOLS

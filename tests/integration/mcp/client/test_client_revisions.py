"""The client on both protocol revisions, against SDK servers on loopback."""

from __future__ import annotations

import base64

import pytest

from auralink.mcp import client
from tests.fakes.mcp_servers import FAILURE_TEXT, FILLER_TOOLS, PAGE_SIZE, PNG_1X1

DEADLINE_S = 5.0
TOOL_COUNT = FILLER_TOOLS + 6  # echo, add, image, fails, sleep, region
PAGES = -(-TOOL_COUNT // PAGE_SIZE)


@pytest.fixture(params=["2025-11-25", "2026-07-28"])
def revision(request):
    """(server, the revision it speaks, its name)."""
    if request.param == "2025-11-25":
        return request.getfixturevalue("legacy_mcp"), request.param, "legacy-tools"
    return request.getfixturevalue("stateless_mcp"), request.param, "stateless-tools"


def test_auto_finds_the_revision_the_server_speaks(revision, tagged):
    server, version, name = revision
    call = tagged(server)

    info = client.discover(call.target, deadline_s=DEADLINE_S)

    assert (info.protocol_version, info.name, info.version) == (version, name, "1.2.3")
    assert info.instructions == "Test tools for the AuraLink client."
    assert "tools" in info.capabilities
    if version == "2026-07-28":
        assert "2026-07-28" in info.discover_result["supportedVersions"]
        assert call.rpc_methods() == ["server/discover"]
    else:
        assert info.discover_result is None
        # The probe is refused; the handshake follows and its session is closed with DELETE.
        assert call.rpc_methods()[:2] == ["server/discover", "initialize"]
        assert ("DELETE", None) in call.seen()


def test_list_tools_follows_every_page(revision, tagged):
    server, version, _ = revision
    call = tagged(server, version)

    info, tools = client.list_tools(call.target, deadline_s=DEADLINE_S)

    assert info.protocol_version == version
    assert len(tools) == TOOL_COUNT
    assert len({tool.name for tool in tools}) == TOOL_COUNT
    assert call.rpc_methods().count("tools/list") == PAGES
    add = next(tool for tool in tools if tool.name == "add")
    assert add.description == "Add two numbers; the sum comes back as structured content."
    assert add.input_schema["required"] == ["a", "b"]
    assert add.output_schema["properties"]["sum"]["type"] == "number"


def test_a_text_result(revision, tagged):
    server, version, _ = revision

    result = client.call_tool(
        tagged(server, version).target, "echo", {"text": "héllo"}, deadline_s=DEADLINE_S
    )

    assert result.content == [{"type": "text", "text": "héllo"}]
    assert result.is_error is False


def test_a_structured_result(revision, tagged):
    server, version, _ = revision

    result = client.call_tool(
        tagged(server, version).target, "add", {"a": 2, "b": 0.5}, deadline_s=DEADLINE_S
    )

    assert result.structured_content == {"sum": 2.5}
    assert result.content[0]["type"] == "text"
    assert result.is_error is False


def test_an_image_comes_back_as_base64(revision, tagged):
    server, version, _ = revision

    result = client.call_tool(tagged(server, version).target, "image", {}, deadline_s=DEADLINE_S)

    [block] = result.content
    assert block["type"] == "image"
    assert block["mimeType"] == "image/png"
    assert base64.b64decode(block["data"]) == PNG_1X1


def test_a_tool_error_is_a_result_not_an_exception(revision, tagged):
    server, version, _ = revision

    result = client.call_tool(tagged(server, version).target, "fails", {}, deadline_s=DEADLINE_S)

    assert result.is_error is True
    assert FAILURE_TEXT in result.content[0]["text"]


def test_replies_come_as_sse_on_the_handshake_and_as_json_when_stateless(revision, tagged):
    server, version, _ = revision
    call = tagged(server, version)

    client.call_tool(call.target, "echo", {"text": "x"}, deadline_s=DEADLINE_S)

    [answer] = [
        seen for seen in server.log.tagged("X-Test-Request", call.tag) if seen.rpc_method == "tools/call"
    ]
    expected = "text/event-stream" if version == "2025-11-25" else "application/json"
    assert answer.content_type.startswith(expected)


def test_each_call_opens_and_closes_its_own_session_on_the_handshake(legacy_mcp, tagged):
    call = tagged(legacy_mcp, "2025-11-25")

    for _ in range(2):
        client.call_tool(call.target, "echo", {"text": "x"}, deadline_s=DEADLINE_S)

    requests = legacy_mcp.log.tagged("X-Test-Request", call.tag)
    assert [seen.rpc_method for seen in requests].count("initialize") == 2
    closed = [seen.headers["mcp-session-id"] for seen in requests if seen.http_method == "DELETE"]
    assert len(closed) == 2 and closed[0] != closed[1]
    assert "server/discover" not in call.rpc_methods()  # pinned: no probe


def test_a_stored_discover_result_skips_the_probe(stateless_mcp, tagged):
    probe = tagged(stateless_mcp)
    stored = client.discover(probe.target, deadline_s=DEADLINE_S).discover_result
    assert probe.rpc_methods() == ["server/discover"]

    warm = tagged(stateless_mcp, discover_result=stored)
    result = client.call_tool(warm.target, "echo", {"text": "warm"}, deadline_s=DEADLINE_S)
    info, _ = client.list_tools(warm.target, deadline_s=DEADLINE_S)

    assert result.content == [{"type": "text", "text": "warm"}]
    assert "server/discover" not in warm.rpc_methods()
    assert warm.rpc_methods()[0] == "tools/call"
    assert (info.protocol_version, info.name) == ("2026-07-28", "stateless-tools")


def test_without_a_stored_result_every_call_probes(stateless_mcp, tagged):
    cold = tagged(stateless_mcp)

    client.call_tool(cold.target, "echo", {"text": "cold"}, deadline_s=DEADLINE_S)

    assert cold.rpc_methods() == ["server/discover", "tools/call"]


def test_a_stored_result_that_no_longer_parses_is_ignored(stateless_mcp, tagged):
    call = tagged(stateless_mcp, discover_result={"supportedVersions": "not a list"})

    result = client.call_tool(call.target, "echo", {"text": "x"}, deadline_s=DEADLINE_S)

    assert result.is_error is False
    assert call.rpc_methods() == ["server/discover", "tools/call"]


def test_discover_always_asks_the_server(stateless_mcp, tagged):
    stored = client.discover(tagged(stateless_mcp).target, deadline_s=DEADLINE_S).discover_result
    for protocol in ("auto", "2026-07-28"):
        call = tagged(stateless_mcp, protocol, discover_result=stored)

        client.discover(call.target, deadline_s=DEADLINE_S)

        assert call.rpc_methods() == ["server/discover"]


def test_pinning_the_handshake_on_a_dual_server_skips_the_probe(stateless_mcp, tagged):
    call = tagged(stateless_mcp, "2025-11-25")

    info = client.discover(call.target, deadline_s=DEADLINE_S)

    assert info.protocol_version == "2025-11-25"
    assert call.rpc_methods()[0] == "initialize"
    assert "server/discover" not in call.rpc_methods()


def test_header_parameters_are_sent_once_the_tool_is_known(stateless_mcp, tagged):
    # `region` declares its argument as a header (x-mcp-header); the server refuses a call
    # without it, and the client lists the tools to learn that, then sends the call again.
    stored = client.discover(tagged(stateless_mcp).target, deadline_s=DEADLINE_S).discover_result
    call = tagged(stateless_mcp, discover_result=stored)

    result = client.call_tool(call.target, "region", {"region": "eu-west-1"}, deadline_s=DEADLINE_S)

    assert result.content == [{"type": "text", "text": "region eu-west-1"}]
    assert call.rpc_methods() == ["tools/call", *["tools/list"] * PAGES, "tools/call"]
    first, *_, last = stateless_mcp.log.tagged("X-Test-Request", call.tag)
    assert first.status == 400 and "mcp-param-region" not in first.headers
    assert last.status == 200 and last.headers["mcp-param-region"] == "eu-west-1"

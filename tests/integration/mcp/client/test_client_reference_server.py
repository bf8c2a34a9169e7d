"""Interoperability with a server no one here wrote: the published "everything" reference server."""

from __future__ import annotations

import base64

from auralink.mcp import client
from auralink.mcp.client import McpTarget

DEADLINE_S = 10.0


def test_discover_falls_back_to_the_handshake(everything_mcp):
    info = client.discover(McpTarget(everything_mcp.url, {}), deadline_s=DEADLINE_S)

    assert info.protocol_version == "2025-11-25"
    assert info.name == "mcp-servers/everything"
    assert info.discover_result is None
    assert "tools" in info.capabilities


def test_list_tools(everything_mcp):
    _, tools = client.list_tools(McpTarget(everything_mcp.url, {}), deadline_s=DEADLINE_S)

    by_name = {tool.name: tool for tool in tools}
    assert {"echo", "get-sum", "get-tiny-image", "get-structured-content"} <= by_name.keys()
    assert by_name["echo"].input_schema["properties"]["message"]["type"] == "string"
    assert by_name["echo"].annotations["readOnlyHint"] is True


def test_echo(everything_mcp):
    result = client.call_tool(
        McpTarget(everything_mcp.url, {}, "2025-11-25"), "echo", {"message": "hi"}, deadline_s=DEADLINE_S
    )

    assert result.content == [{"type": "text", "text": "Echo: hi"}]
    assert result.is_error is False


def test_add(everything_mcp):
    result = client.call_tool(
        McpTarget(everything_mcp.url, {}), "get-sum", {"a": 2, "b": 40}, deadline_s=DEADLINE_S
    )

    assert result.content == [{"type": "text", "text": "The sum of 2 and 40 is 42."}]


def test_an_image(everything_mcp):
    result = client.call_tool(McpTarget(everything_mcp.url, {}), "get-tiny-image", {}, deadline_s=DEADLINE_S)

    [image] = [block for block in result.content if block["type"] == "image"]
    assert image["mimeType"] == "image/png"
    assert base64.b64decode(image["data"]).startswith(b"\x89PNG\r\n\x1a\n")


def test_structured_content(everything_mcp):
    result = client.call_tool(
        McpTarget(everything_mcp.url, {}),
        "get-structured-content",
        {"location": "Chicago"},
        deadline_s=DEADLINE_S,
    )

    assert set(result.structured_content) == {"temperature", "conditions", "humidity"}


def test_its_errors_are_results(everything_mcp):
    # This server answers an unknown tool and invalid arguments with isError results.
    target = McpTarget(everything_mcp.url, {})

    unknown = client.call_tool(target, "no-such-tool", {}, deadline_s=DEADLINE_S)
    invalid = client.call_tool(target, "echo", {"message": 42}, deadline_s=DEADLINE_S)

    assert unknown.is_error and "not found" in unknown.content[0]["text"]
    assert invalid.is_error and "message" in invalid.content[0]["text"]

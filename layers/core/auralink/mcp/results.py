"""What the MCP client is given and what it hands back, as plain models.

This module does not import the `mcp` SDK, so code that only stores or shows these values
(connections, tool caches, responses) can use them without paying for the SDK's import.
The shapes follow MCP's own JSON: content blocks, schemas and capabilities are kept as the
server sent them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ConfigDict

from auralink.config.models import ResponseCaps
from auralink.model import DeferredModel

Protocol = Literal["auto", "2025-11-25", "2026-07-28"]


@dataclass(frozen=True)
class McpTarget:
    """One MCP server as the gateway reaches it.

    `headers` carry the connection's decrypted credentials: they go on every HTTP request to
    `url` and nowhere else (never into a message, a log line or a repr). `protocol` "auto"
    probes `server/discover` and falls back to the 2025-11-25 handshake; a `discover_result`
    from an earlier probe lets a warm call skip the probe.
    """

    url: str
    headers: Mapping[str, str] = field(repr=False)
    protocol: Protocol = "auto"
    discover_result: Mapping[str, Any] | None = field(default=None, repr=False)
    # A user's own endpoint: every connection is checked by the SSRF guard as it is opened, so a
    # name that now resolves to a private address (DNS rebinding) is never reached.
    ssrf_guard: bool = False
    # What the server may send in one call: more is refused, and the connection dropped.
    caps: ResponseCaps = field(default_factory=ResponseCaps)
    # Whether a session to it may be kept for later calls (`auralink.mcp.session_pool`): not for
    # the hosted servers, whose service token is minted anew for every call.
    reusable: bool = True


class ServerInfo(DeferredModel):
    """Who answered and what it offers; `discover_result` is set only on the 2026-07-28 revision."""

    model_config = ConfigDict(frozen=True)

    protocol_version: str
    name: str | None
    version: str | None
    capabilities: dict[str, Any]
    instructions: str | None
    discover_result: dict[str, Any] | None


class ToolInfo(DeferredModel):
    model_config = ConfigDict(frozen=True)

    name: str
    title: str | None
    description: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any] | None

    def document(self) -> dict[str, Any]:
        """The tool as a connection stores it (its cached tools)."""
        return self.model_dump(mode="json")


class ToolResult(DeferredModel):
    """A tool's answer in MCP's shape: content blocks as JSON (text, image and audio with base64
    `data` and `mimeType`, resource links, embedded resources), structured content, isError.

    `structured_content` is an object through 2025-11-25; the 2026-07-28 revision allows any
    JSON value, so it is kept as the server sent it.
    """

    model_config = ConfigDict(frozen=True)

    content: list[dict[str, Any]]
    structured_content: Any
    is_error: bool

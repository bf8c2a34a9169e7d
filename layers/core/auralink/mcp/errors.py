"""Failures of MCP servers, as the gateway reports them.

Each failure says whether repeating the call is safe: a retry happens only when the server
cannot have acted on the request (it was never reached, or it said it is overloaded).
"""

from __future__ import annotations

from typing import Any

from auralink.errors import UpstreamError, UpstreamTimeout


class McpUpstreamError(UpstreamError):
    """The server could not be reached, refused us, or answered something that is not MCP (502)."""

    code = "mcp_upstream_error"

    def __init__(self, message: str, *, code: str, retryable: bool = False, details: Any = None) -> None:
        super().__init__(message, code=code, details=details)
        self.retryable = retryable


class McpTimeout(UpstreamTimeout):
    """The server did not answer before the call's deadline (504)."""

    code = "mcp_timeout"

    def __init__(self, message: str, *, code: str = "mcp_timeout", retryable: bool = False) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable


# Stable codes (documented in docs/mcp.md):
UNREACHABLE = "mcp_unreachable"  # connect error, DNS failure, connection refused: retryable
HTTP_ERROR = "mcp_http_error"  # 4xx/5xx other than the ones below: not retryable
OVERLOADED = "mcp_overloaded"  # 429, 502, 503, 504 from the server: retryable
AUTH_FAILED = "mcp_auth_failed"  # 401/403: the connection's credentials are refused
PROTOCOL_ERROR = "mcp_protocol_error"  # the answer is not valid MCP (garbage, wrong JSON-RPC)
TOOL_NOT_FOUND = "mcp_tool_not_found"  # the server does not know the tool
SERVER_ERROR = "mcp_server_error"  # the server answered a JSON-RPC error to the request
# What a server sends past the caps of `mcp-config.yaml` (`response_caps`), never retried:
RESPONSE_TOO_LARGE = "mcp_response_too_large"  # one call's answers passed max_response_bytes
TOO_MANY_TOOLS = "mcp_too_many_tools"  # tools/list listed more than max_tools
TOOL_SCHEMAS_TOO_LARGE = "mcp_tool_schemas_too_large"  # the tools weigh more than max_tool_schema_bytes

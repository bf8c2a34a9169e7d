"""Failures of MCP servers, as the gateway reports them.

Each failure says whether repeating the call is safe: a retry happens only when the server
cannot have acted on the request (it was never reached, or it said it is overloaded).

Each also says whose failure it is (`Fault`), as the client saw it on the wire, so that a
breaker shared by every user learns only of the server's own failures:

- ``request``: the server answered, and the answer belongs to this request: an HTTP 4xx (a
  wrong path, a bad request), refused credentials, a redirect, a JSON-RPC error, an unknown
  tool. It says nothing against the server.
- ``unreachable``: the server was never reached (connection refused, a name that does not
  resolve, a connect timeout). No caller can cause that.
- ``server``: the server failed while serving the request: an HTTP 5xx, overload (429,
  502-504), no answer in time, an answer that is not MCP, a connection dropped mid-call. One
  caller can provoke these (a slow query on purpose), so a shared breaker needs several users
  to see them.
"""

from __future__ import annotations

from typing import Any, Literal

from auralink.errors import UpstreamError, UpstreamTimeout

Fault = Literal["request", "unreachable", "server"]


class McpUpstreamError(UpstreamError):
    """The server could not be reached, refused us, or answered something that is not MCP (502)."""

    code = "mcp_upstream_error"

    def __init__(
        self,
        message: str,
        *,
        code: str,
        fault: Fault = "server",
        retryable: bool = False,
        details: Any = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.fault: Fault = fault
        self.retryable = retryable
        # A 401's WWW-Authenticate header: not shown to callers, read to start an OAuth sign-in.
        self.www_authenticate: str | None = None


class McpTimeout(UpstreamTimeout):
    """The server did not answer before the call's deadline (504)."""

    code = "mcp_timeout"

    def __init__(
        self, message: str, *, code: str = "mcp_timeout", fault: Fault = "server", retryable: bool = False
    ) -> None:
        super().__init__(message, code=code)
        self.fault: Fault = fault
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

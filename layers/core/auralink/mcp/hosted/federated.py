"""The caller's own MCP endpoint: the tools of all their connections, behind one URL.

The tool list differs per caller and changes as connections come and go, so this server uses
the SDK's lower-level `Server` with `tools/list` and `tools/call` handlers of its own instead of
static registrations. The work itself (catalog, name mapping, calls through the gateway) is in
`auralink.mcp.federation`; it is synchronous and talks to Postgres and to other servers, so it
runs in a worker thread, off the event loop that serves the request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS
from pydantic import ValidationError

from auralink import __version__
from auralink.mcp import federation
from auralink.mcp.federation import FederatedTool, UnknownTool
from auralink.mcp.hosted.app import current_api_base_url, current_caller, remaining_ms
from auralink.observability import logger

SERVER_NAME = "auralink"
SERVER_TITLE = "AuraLink"
INSTRUCTIONS = (
    "AuraLink is your MCP gateway: these are the tools of the MCP servers you connected to AuraLink,"
    f" each named <connection name>{federation.SEPARATOR}<tool name> and described with its"
    " connection's name first. A call goes to that connection's server with the credentials you"
    " stored, under AuraLink's rate limits and circuit breaker, and is recorded in your operation log."
    " A tool result that starts with an error code (for example 'rate_limited_user: ...') is"
    " AuraLink's own answer: the server was not called or did not answer."
)


def _published(tool: FederatedTool) -> types.Tool | None:
    definition = tool.definition
    try:
        return types.Tool.model_validate(
            {
                "name": tool.name,
                "title": definition.get("title"),
                "description": tool.description,
                "inputSchema": definition.get("input_schema") or {"type": "object"},
                "outputSchema": definition.get("output_schema"),
                "annotations": definition.get("annotations"),
            }
        )
    except ValidationError:
        # Cached from a server that described the tool in a shape this SDK does not accept.
        logger.warning(
            "A tool is left out of the federated endpoint",
            extra={
                "connection_id": str(tool.connection_id),
                "tool": tool.tool,
                "reason": "invalid_definition",
            },
        )
        return None


async def _in_worker[T](work: Callable[[], T]) -> T:
    try:
        return await anyio.to_thread.run_sync(work)
    except (MCPError, UnknownTool):
        raise
    except Exception:
        # The SDK would put the exception's text in the reply: it stays in the log instead.
        logger.exception("The federated endpoint failed")
        raise MCPError(INTERNAL_ERROR, "Internal error") from None


async def list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    work = functools.partial(
        federation.catalog,
        current_caller(),
        api_base_url=current_api_base_url(),
        remaining_ms=remaining_ms(),
    )
    listed = [published for tool in await _in_worker(work) if (published := _published(tool)) is not None]
    # The list is the caller's own and changes with their connections.
    return types.ListToolsResult(tools=listed, ttl_ms=0, cache_scope="private")


async def call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    work = functools.partial(
        federation.call,
        current_caller(),
        params.name,
        dict(params.arguments or {}),
        api_base_url=current_api_base_url(),
        remaining_ms=remaining_ms(),
    )
    try:
        result = await _in_worker(work)
    except UnknownTool as exc:
        # The protocol's answer to a tool the server does not have.
        raise MCPError(INVALID_PARAMS, exc.message) from None
    return types.CallToolResult.model_validate(
        {
            "content": result.content,
            "structuredContent": result.structured_content,
            "isError": result.is_error,
        }
    )


def _no_header_schema(name: str) -> None:
    # Arguments are checked against the connection's cached schema by the gateway's call; without
    # this the SDK would list every connection's tools before each call to check Mcp-Param headers.
    return None


server: Server[Any] = Server(
    SERVER_NAME,
    version=__version__,
    title=SERVER_TITLE,
    instructions=INSTRUCTIONS,
    on_list_tools=list_tools,
    on_call_tool=call_tool,
    get_tool_input_schema=_no_header_schema,
)

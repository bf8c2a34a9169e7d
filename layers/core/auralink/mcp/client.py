"""The MCP protocol client: discover a server, list its tools, call one, over Streamable HTTP.

It speaks both revisions through the official SDK: the 2025-11-25 handshake (initialize,
session id, SSE replies) and the stateless 2026-07-28 revision (`server/discover`, no session).
Each public call opens its own client and closes it (a legacy session is ended with DELETE), so
nothing depends on a session surviving between invocations. A discover result from an earlier
probe, passed back in the target, lets a warm call skip the probe.

The calls are synchronous because Lambda handlers are: the SDK's async code runs in an event
loop of its own for the length of one call, under one wall-clock deadline that covers the
connection, the probe or handshake, the request and the close. Redirects are never followed.
Every answer is counted on the wire against the target's `caps` (`auralink.mcp.response_cap`),
and a tool list is refused past its caps in count and weight.

Failures come out as `McpTimeout` or `McpUpstreamError` with a stable code from
`auralink.mcp.errors` and whose fault it is (`Fault`: the request, the server, or a server
never reached). The SDK turns HTTP failures into generic JSON-RPC errors, so the status and
content type of each answer are read at the HTTP layer (`_Wire`) to tell them apart.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CONNECTION_CLOSED,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    REQUEST_TIMEOUT,
    JSONRPCError,
    jsonrpc_message_adapter,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from auralink.config.models import ResponseCaps
from auralink.errors import DomainError
from auralink.mcp import session_pool
from auralink.mcp.errors import (
    AUTH_FAILED,
    HTTP_ERROR,
    OVERLOADED,
    PROTOCOL_ERROR,
    SERVER_ERROR,
    TOO_MANY_TOOLS,
    TOOL_NOT_FOUND,
    TOOL_SCHEMAS_TOO_LARGE,
    UNREACHABLE,
    Fault,
    McpTimeout,
    McpUpstreamError,
)
from auralink.mcp.response_cap import CappedTransport, ResponseMeter
from auralink.mcp.results import McpTarget, Protocol, ServerInfo, ToolInfo, ToolResult
from auralink.observability import logger
from auralink.settings import get_settings
from auralink.ssrf.transport import guarded_transport, refusal_of, unresolvable

__all__ = [
    "McpTarget",
    "Protocol",
    "ServerInfo",
    "ToolInfo",
    "ToolResult",
    "call_tool",
    "discover",
    "list_tools",
]

# The SDK's HTTP client logs every request URL at INFO; a custom endpoint's URL may carry a
# token in its query string.
logging.getLogger("httpx2").setLevel(logging.WARNING)

CONNECT_TIMEOUT_S = 5.0
MAX_TOOL_PAGES = 100
MAX_SERVER_MESSAGE = 300
_CLIENT_INFO = types.Implementation(name="auralink-gateway", version="1.0")
_AUTH_STATUSES = frozenset({401, 403})
_OVERLOAD_STATUSES = frozenset({429, 502, 503, 504})
_ANSWER_TYPES = frozenset({"application/json", "text/event-stream"})
# The spec's answer to an unknown tool is -32602 "Unknown tool: <name>"; servers word it a few ways.
# It reads only the message's first MAX_SERVER_MESSAGE characters, and its gap is bounded: a
# server's megabytes of "tool tool tool..." cost microseconds, not a quadratic scan.
_UNKNOWN_TOOL = re.compile(r"unknown tool|\btool\b.{0,100}?\bnot found|no such tool", re.IGNORECASE)


def discover(
    target: McpTarget, *, deadline_s: float, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> ServerInfo:
    """Ask the server who it is, always on the wire: a stored discover result is not used here."""

    async def work(client: Client) -> ServerInfo:
        return _server_info(client)

    return _run("server/discover", target, deadline_s, connect_timeout_s, work, fresh=True)


def list_tools(
    target: McpTarget, *, deadline_s: float, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> tuple[ServerInfo, list[ToolInfo]]:
    """Every tool of the server, following pagination cursors."""

    async def work(client: Client) -> tuple[ServerInfo, list[ToolInfo]]:
        return _server_info(client), await _all_tools(client, target.caps)

    return _run("tools/list", target, deadline_s, connect_timeout_s, work)


def call_tool(
    target: McpTarget,
    name: str,
    arguments: Mapping[str, Any],
    *,
    deadline_s: float,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
) -> ToolResult:
    """Call one tool. A result with `isError` is a `ToolResult` with `is_error=True`, not an exception."""

    async def work(client: Client) -> ToolResult:
        return _tool_result(await _call(client, name, dict(arguments), target.caps))

    return _run("tools/call", target, deadline_s, connect_timeout_s, work)


def _run[T](
    operation: str,
    target: McpTarget,
    deadline_s: float,
    connect_timeout_s: float,
    work: Callable[[Client], Awaitable[T]],
    *,
    fresh: bool = False,
) -> T:
    if deadline_s <= 0:
        raise McpTimeout(f"No time was left for {operation}", fault="request")
    pool = session_pool.current()
    if pool is not None and not fresh and target.reusable:
        deadline_at = time.monotonic() + deadline_s
        return _run_kept(pool, _KeptCall(operation, target, deadline_s, connect_timeout_s, deadline_at), work)
    wire = _Wire()
    meter = ResponseMeter(target.caps.max_response_bytes, operation)
    transport = CappedTransport(_transport(target), meter)
    done: list[T] = []

    async def main() -> None:
        with anyio.fail_after(deadline_s), anyio.CancelScope() as call:
            # An answer refused on the wire ends the call at once (see `auralink.mcp.response_cap`).
            meter.on_refusal = call.cancel
            async with _connected(
                target, wire, transport, deadline_s, connect_timeout_s, fresh=fresh
            ) as client:
                done.append(await work(client))

    try:
        anyio.run(main)
    except (Exception, BaseExceptionGroup) as exc:
        if done:
            # Only the close (a legacy session's DELETE) failed or ran out of time: the answer stands.
            logger.warning("closing the MCP connection did not finish", extra={"operation": operation})
            return done[0]
        error = _failure(exc, wire, meter, operation, deadline_s)
        if error is None:
            raise
        raise error from exc
    if done:
        return done[0]
    # The call was cancelled by the meter and ended without an error of its own.
    assert meter.refusal is not None
    raise meter.refusal


@dataclass(frozen=True)
class _Kept:
    """A client kept open in a session scope, with the HTTP layer that reports to its current call."""

    client: Client
    wire: _Wire
    transport: CappedTransport


@dataclass(frozen=True)
class _KeptCall:
    operation: str
    target: McpTarget
    deadline_s: float
    connect_timeout_s: float
    deadline_at: float

    def left_s(self) -> float:
        return max(self.deadline_at - time.monotonic(), 0.001)


def _run_kept[T](
    pool: session_pool.SessionPool, call: _KeptCall, work: Callable[[Client], Awaitable[T]]
) -> T:
    """`_run` on the scope's open session to this server with these credentials; a session that
    turns out stale (the server forgot it, the connection died while the container was frozen)
    costs one more try on a fresh one, within the same deadline."""
    target = call.target
    # The headers carry the credentials: a session is never shared by two users.
    key = (target.url, tuple(sorted(target.headers.items())), target.protocol, target.ssrf_guard, target.caps)
    try:
        return _attempt_kept(pool, key, call, work, last=False)
    except _StaleSession:
        return _attempt_kept(pool, key, call, work, last=True)


class _StaleSession(Exception):
    """A kept session failed as a stale one does: worth one try on a fresh session."""


def _attempt_kept[T](
    pool: session_pool.SessionPool,
    key: tuple[Any, ...],
    call: _KeptCall,
    work: Callable[[Client], Awaitable[T]],
    *,
    last: bool,
) -> T:
    meter = ResponseMeter(call.target.caps.max_response_bytes, call.operation)
    used = [_Wire()]

    def opener() -> AbstractAsyncContextManager[_Kept]:
        # Only for a session that opens now: a reused one keeps its HTTP client and transport.
        transport = CappedTransport(_transport(call.target), meter)
        return _kept(call.target, used[0], transport, call.left_s(), call.connect_timeout_s)

    async def on_session(kept: _Kept) -> T:
        used[0] = kept.wire
        kept.wire.last_reply = None
        kept.transport.meter = meter
        with anyio.fail_after(call.left_s()), anyio.CancelScope() as scope:
            meter.on_refusal = scope.cancel
            return await work(kept.client)
        assert meter.refusal is not None  # only the meter cancels the call without raising
        raise meter.refusal

    reused = pool.holds(key)
    try:
        value: T = pool.call(key, opener, on_session, timeout_s=call.left_s())
    except session_pool.SessionEnded:
        if last:
            raise _timeout(call.operation, call.deadline_s) from None
        raise _StaleSession from None
    except (Exception, BaseExceptionGroup) as exc:
        error = _failure(exc, used[0], meter, call.operation, call.deadline_s)
        if not last and reused and _stale(exc, error):
            logger.info("a kept MCP session was stale: a fresh one", extra={"operation": call.operation})
            raise _StaleSession from exc
        if error is None:
            raise
        raise error from exc
    return value


@asynccontextmanager
async def _kept(
    target: McpTarget, wire: _Wire, transport: CappedTransport, deadline_s: float, connect_timeout_s: float
) -> AsyncIterator[_Kept]:
    async with _connected(target, wire, transport, deadline_s, connect_timeout_s, fresh=False) as client:
        yield _Kept(client, wire, transport)


def _stale(exc: BaseException, error: BaseException | None) -> bool:
    """Whether a reused session failed as a stale one does: its connection found dead, or its
    session unknown to the server (404, the 2025-11-25 answer to a forgotten session id)."""
    dead = (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError, httpx2.ConnectError)
    if any(isinstance(leaf, dead) for leaf in _leaves(exc)):
        return True
    details = getattr(error, "details", None)
    return isinstance(details, dict) and details.get("http_status") == 404


def _failure(
    exc: BaseException, wire: _Wire, meter: ResponseMeter, operation: str, deadline_s: float
) -> BaseException | None:
    """The domain error for a failed call; None for a bug of ours (the original is raised)."""
    if meter.refusal is not None:
        return meter.refusal
    leaves = _leaves(exc)
    if any(isinstance(leaf, TimeoutError | asyncio.CancelledError) for leaf in leaves):
        return _timeout(operation, deadline_s)
    return _translate(leaves, wire, operation)


@asynccontextmanager
async def _connected(
    target: McpTarget,
    wire: _Wire,
    transport: CappedTransport,
    deadline_s: float,
    connect_timeout_s: float,
    *,
    fresh: bool,
) -> AsyncIterator[Client]:
    timeout = httpx2.Timeout(deadline_s, connect=min(connect_timeout_s, deadline_s))
    async with httpx2.AsyncClient(
        headers=dict(target.headers),
        timeout=timeout,
        follow_redirects=False,
        event_hooks={"response": [wire.on_response]},
        transport=transport,
    ) as http:
        stored = None if fresh else _stored_discover(target.discover_result)
        if target.protocol == "2025-11-25":
            mode = "legacy"
        elif target.protocol == "2026-07-28" or stored is not None:
            mode = "2026-07-28"
        else:
            mode = "auto"
        stream = streamable_http_client(target.url, http_client=http)
        async with Client(
            stream, mode=mode, prior_discover=stored, cache=None, client_info=_CLIENT_INFO
        ) as client:
            if mode == "2026-07-28" and stored is None:
                # Pinned to the stateless revision with nothing stored: the SDK would adopt a
                # made-up result; ask the server instead.
                raw = await client.session.send_discover(mode)
                client.session.adopt(types.DiscoverResult.model_validate(raw))
            yield client


def _transport(target: McpTarget) -> httpx2.AsyncBaseTransport:
    # Connections go straight to the server: a client given a transport reads no proxy variables.
    if target.ssrf_guard:
        allow_loopback = get_settings().allow_loopback_endpoints
        return guarded_transport(allow_loopback=allow_loopback, verify=_tls_context())
    return httpx2.AsyncHTTPTransport(verify=_tls_context())


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~20 ms: once per container, not once per call.
    return httpx2.create_ssl_context()


def _stored_discover(stored: Mapping[str, Any] | None) -> types.DiscoverResult | None:
    """A discover result kept from an earlier probe, if it still parses and names a version we speak."""
    if stored is None:
        return None
    try:
        result = types.DiscoverResult.model_validate(dict(stored))
    except ValidationError:
        return None
    if not any(version in result.supported_versions for version in MODERN_PROTOCOL_VERSIONS):
        return None
    return result


async def _all_tools(client: Client, caps: ResponseCaps) -> list[ToolInfo]:
    tools: list[ToolInfo] = []
    schema_bytes = 0
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        if len(tools) + len(page.tools) > caps.max_tools:
            raise McpUpstreamError(
                f"The MCP server lists more than {caps.max_tools} tools",
                code=TOO_MANY_TOOLS,
                details={"max_tools": caps.max_tools},
            )
        for tool in page.tools:
            info = _tool_info(tool)
            # Weighed as the connection stores it: schemas, names and texts.
            schema_bytes += len(info.model_dump_json().encode())
            if schema_bytes > caps.max_tool_schema_bytes:
                raise McpUpstreamError(
                    f"The MCP server's tools weigh more than {caps.max_tool_schema_bytes} bytes",
                    code=TOOL_SCHEMAS_TOO_LARGE,
                    details={"max_tool_schema_bytes": caps.max_tool_schema_bytes},
                )
            tools.append(info)
        cursor = page.next_cursor
        if cursor is None:
            return tools
        if cursor in seen:
            raise McpUpstreamError("The MCP server repeated a tools/list cursor", code=PROTOCOL_ERROR)
        seen.add(cursor)
    raise McpUpstreamError(
        f"The MCP server listed more than {MAX_TOOL_PAGES} pages of tools", code=PROTOCOL_ERROR
    )


async def _call(
    client: Client, name: str, arguments: dict[str, Any], caps: ResponseCaps
) -> types.CallToolResult:
    # Sent directly rather than through `Client.call_tool`, which lists the server's tools to
    # validate structured output: a second round trip on every call of a fresh client.
    request = types.CallToolRequest(params=types.CallToolRequestParams(name=name, arguments=arguments))
    try:
        return await client.session.send_request(request, types.CallToolResult)
    except MCPError as error:
        if error.code != HEADER_MISMATCH or client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            raise
    # The server wants some arguments mirrored into Mcp-Param-* headers, which the SDK does for
    # tools it has listed: list them, then send once more.
    await _all_tools(client, caps)
    return await client.session.send_request(request, types.CallToolResult)


def _server_info(client: Client) -> ServerInfo:
    implementation = client.server_info
    discovered = client.session.discover_result
    return ServerInfo(
        protocol_version=client.protocol_version,
        name=None if implementation is None else implementation.name,
        version=None if implementation is None else implementation.version or None,
        capabilities=client.server_capabilities.model_dump(by_alias=True, mode="json", exclude_none=True),
        instructions=client.instructions,
        discover_result=None
        if discovered is None
        else discovered.model_dump(by_alias=True, mode="json", exclude_none=True),
    )


def _tool_info(tool: types.Tool) -> ToolInfo:
    annotations = tool.annotations
    return ToolInfo(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        annotations=None
        if annotations is None
        else annotations.model_dump(by_alias=True, mode="json", exclude_none=True),
    )


def _tool_result(result: types.CallToolResult) -> ToolResult:
    return ToolResult(
        content=[block.model_dump(by_alias=True, mode="json", exclude_none=True) for block in result.content],
        structured_content=result.structured_content,
        is_error=result.is_error,
    )


class _Refused(Exception):
    """An HTTP answer that ends the call whatever its body says: a redirect, a refusal, overload."""

    def __init__(self, status: int, www_authenticate: str | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.www_authenticate = www_authenticate


@dataclass(frozen=True)
class _Reply:
    status: int
    content_type: str
    jsonrpc_error: bool


class _Wire:
    """What the HTTP layer saw of the last answer to a POST (the request being served).

    One client sends one request at a time, so when the SDK reports an error, the last POST
    answer is the one that carried it.
    """

    def __init__(self) -> None:
        self.last_reply: _Reply | None = None

    async def on_response(self, response: httpx2.Response) -> None:
        status = response.status_code
        # Raised here, so that the SDK neither follows a redirect on the same origin nor takes
        # a refusal of the discover probe for a legacy server and retries with the handshake.
        if 300 <= status < 400 or status in _AUTH_STATUSES or status in _OVERLOAD_STATUSES:
            raise _Refused(status, response.headers.get("www-authenticate"))
        if response.request.method != "POST":
            return
        content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        jsonrpc_error = False
        if status >= 400 and content_type == "application/json":
            jsonrpc_error = _is_jsonrpc_error(await response.aread())
        self.last_reply = _Reply(status, content_type, jsonrpc_error)


def _is_jsonrpc_error(body: bytes) -> bool:
    try:
        return isinstance(jsonrpc_message_adapter.validate_json(body, by_name=False), JSONRPCError)
    except ValidationError:
        return False


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _first[E: BaseException](leaves: list[BaseException], kind: type[E]) -> E | None:
    return next((leaf for leaf in leaves if isinstance(leaf, kind)), None)


def _timeout(operation: str, deadline_s: float | None = None) -> McpTimeout:
    within = "in time" if deadline_s is None else f"within {deadline_s:.3g} s"
    return McpTimeout(f"The MCP server did not complete {operation} {within}")


def _translate(leaves: list[BaseException], wire: _Wire, operation: str) -> DomainError | None:
    """The domain error for what went wrong, most telling cause first; None for a bug of ours."""
    if (own := _first(leaves, DomainError)) is not None:
        return own
    if (refused := _first(leaves, _Refused)) is not None:
        refusal = _refusal(refused.status)
        # A 401's challenge says where a server behind OAuth tells how to sign in (RFC 9728).
        refusal.www_authenticate = refused.www_authenticate if refused.status == 401 else None
        return refusal
    if (failure := _first(leaves, httpx2.RequestError)) is not None:
        return _transport_failure(failure, operation)
    if (error := _first(leaves, MCPError)) is not None:
        return _from_jsonrpc(error, wire.last_reply, operation)
    if _first(leaves, ValidationError) or _first(leaves, RuntimeError):
        return McpUpstreamError(
            f"The MCP server's answer to {operation} is not valid MCP", code=PROTOCOL_ERROR
        )
    return None


def _transport_failure(failure: httpx2.RequestError, operation: str) -> DomainError:
    refusal = refusal_of(failure)
    if refusal is not None:
        # The name now resolves to an address the guard refuses: never retried.
        return refusal
    if unresolvable(failure):
        # It resolved when the connection was made: now it names a server that cannot be reached.
        return McpUpstreamError(
            "The server's name does not resolve", code=UNREACHABLE, fault="unreachable", retryable=False
        )
    if isinstance(failure, httpx2.ConnectError | httpx2.ConnectTimeout):
        return McpUpstreamError(
            "The MCP server cannot be reached", code=UNREACHABLE, fault="unreachable", retryable=True
        )
    if isinstance(failure, httpx2.TimeoutException):
        return _timeout(operation)
    if isinstance(failure, httpx2.RemoteProtocolError | httpx2.DecodingError):
        return McpUpstreamError("The MCP server's HTTP answer is malformed", code=PROTOCOL_ERROR)
    # The request may have reached the server before the connection broke: not retryable, and
    # the server's failure (fault "server"), not one of reaching it.
    return McpUpstreamError("The connection to the MCP server broke during the call", code=UNREACHABLE)


def _refusal(status: int) -> McpUpstreamError:
    fault: Fault = "request"
    if status < 400:
        message, code = f"The MCP server redirected the request (HTTP {status}): not followed", HTTP_ERROR
    elif status in _AUTH_STATUSES:
        message, code = f"The MCP server refused the connection's credentials (HTTP {status})", AUTH_FAILED
    else:
        # 429 too: a server that sheds load is unwell, whoever's call it shed.
        message, code, fault = (
            f"The MCP server is overloaded or unavailable (HTTP {status})",
            OVERLOADED,
            "server",
        )
    return McpUpstreamError(
        message, code=code, fault=fault, retryable=code == OVERLOADED, details={"http_status": status}
    )


def _fault_of(status: int) -> Fault:
    """An HTTP error status answers the request (4xx) or says the server failed (5xx)."""
    return "server" if status >= 500 else "request"


def _from_jsonrpc(error: MCPError, reply: _Reply | None, operation: str) -> DomainError:
    """A JSON-RPC error: either the server's own answer or the SDK's account of a broken one."""
    if error.code == REQUEST_TIMEOUT:
        return _timeout(operation)
    if reply is None:
        return McpUpstreamError(f"The MCP server gave no answer to {operation}", code=PROTOCOL_ERROR)
    if reply.status >= 400 and not reply.jsonrpc_error:
        return McpUpstreamError(
            f"The MCP server answered HTTP {reply.status}",
            code=HTTP_ERROR,
            fault=_fault_of(reply.status),
            details={"http_status": reply.status},
        )
    if reply.status < 400 and _broken_answer(error, reply):
        return McpUpstreamError(
            f"The MCP server's answer to {operation} is not valid MCP",
            code=PROTOCOL_ERROR,
            details={"http_status": reply.status, "content_type": reply.content_type or None},
        )
    details: dict[str, Any] = {
        "server_code": error.code,
        "server_message": error.message[:MAX_SERVER_MESSAGE],
    }
    if reply.status >= 400:
        details["http_status"] = reply.status
    if operation == "tools/call" and _names_unknown_tool(error):
        return McpUpstreamError(
            "The MCP server does not know this tool", code=TOOL_NOT_FOUND, fault="request", details=details
        )
    # A JSON-RPC error is the server's answer to this request (invalid params, a schema it
    # refuses): it is up. Only one carried by an HTTP 5xx says otherwise.
    return McpUpstreamError(
        f"The MCP server answered an error to {operation}",
        code=SERVER_ERROR,
        fault=_fault_of(reply.status),
        details=details,
    )


def _broken_answer(error: MCPError, reply: _Reply) -> bool:
    """Whether the SDK made this error up from a 2xx answer that carried no JSON-RPC reply."""
    if error.code == PARSE_ERROR or reply.status == 202 or reply.content_type not in _ANSWER_TYPES:
        return True
    # An event stream that closed before the reply arrived.
    return reply.content_type == "text/event-stream" and error.code == CONNECTION_CLOSED


def _names_unknown_tool(error: MCPError) -> bool:
    return error.code in (INVALID_PARAMS, METHOD_NOT_FOUND) and bool(
        _UNKNOWN_TOOL.search(error.message[:MAX_SERVER_MESSAGE])
    )

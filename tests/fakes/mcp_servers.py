"""MCP servers on loopback for the tests, written with the official SDK and run by uvicorn.

- `tools_app(stateless=False)`: the 2025-11-25 handshake with sessions and SSE replies. Like a
  server published before the stateless revision, it refuses requests that announce a newer
  protocol version, so an "auto" client falls back to the handshake.
- `tools_app(stateless=True)`: the same tools on the stateless 2026-07-28 revision, JSON replies.
- `slow_app()`: a handshake server whose only tool sleeps as long as it is asked to.
- `canned_app()`: HTTP answers chosen by path: error statuses, garbage, redirects, silence.
- `host_app()`: one host with both: `tools_app(stateless=True)` at `/mcp`, `canned_app()`'s
  answers on every other path (a wrong path of a working host).
- `deepwiki_app()`: DeepWiki's tools (`read_wiki_structure{repoName}`,
  `read_wiki_contents{repoName}`, `ask_question{repoName, question}`), stateless, canned answers.
- `require_bearer(app, token)`, `require_header(app, name, value)`: any of them behind a bearer
  token or an API key header; `slow_close(app, delay_s)`: a session whose closing DELETE takes
  its time.

`LoopbackServer` runs an app on 127.0.0.1 in a thread and records what it received (`log`), so
tests can count requests by JSON-RPC method and check the headers that arrived. Tests that
share a server tell their own requests apart by a header of their own (`RequestLog.tagged`).
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.request_log import App, Receive, RequestLog, Scope, Send

MCP_PATH = "/mcp"
PAGE_SIZE = 20
FILLER_TOOLS = 60
# A 1x1 transparent PNG.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
FAILURE_TEXT = "the tool failed on purpose"
PROTECTED_TOKEN = "sk-loopback-0123456789abcdef"
LONG_ERROR_MESSAGE = "the server says no. " * 50


class Sum(BaseModel):
    sum: float


def tools_server(name: str) -> MCPServer:
    """echo, add (structured), image, fails (isError), sleep, region (a header parameter), and
    FILLER_TOOLS more, listed PAGE_SIZE at a time."""
    server: MCPServer = MCPServer(
        name, version="1.2.3", instructions="Test tools for the AuraLink client.", log_level="WARNING"
    )

    @server.tool(description="Echo the text back.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="Add two numbers; the sum comes back as structured content.")
    def add(a: float, b: float) -> Sum:
        return Sum(sum=a + b)

    @server.tool(description="A 1x1 PNG image.")
    def image() -> Image:
        return Image(data=PNG_1X1, format="png")

    @server.tool(description="Always fails: the result carries isError.")
    def fails() -> str:
        raise ToolError(FAILURE_TEXT)

    _add_sleep(server)

    @server.tool(description="Echo a region that the stateless revision also carries in a header.")
    def region(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})]) -> str:
        return f"region {region}"

    for index in range(FILLER_TOOLS):
        server.add_tool(_filler(index), name=f"noop_{index:02d}", description="Does nothing.")
    server.middleware.extend([_reject_unknown_tools(server), _paginate_tools])
    return server


def _add_sleep(server: MCPServer) -> None:
    @server.tool(description="Sleep, then say how long.")
    async def sleep(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return f"slept {seconds}"


def _filler(index: int) -> Callable[[], str]:
    def noop() -> str:
        return f"noop {index}"

    return noop


async def _paginate_tools(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """tools/list in pages of PAGE_SIZE; the cursor is the index of the next tool."""
    result = await call_next(ctx)
    if ctx.method != "tools/list" or not isinstance(result, dict):
        return result
    start = int((ctx.params or {}).get("cursor") or 0)
    end = start + PAGE_SIZE
    page = {**result, "tools": result["tools"][start:end]}
    if end < len(result["tools"]):
        page["nextCursor"] = str(end)
    return page


def _reject_unknown_tools(server: MCPServer) -> ServerMiddleware[Any]:
    """An unknown tool gets the spec's JSON-RPC error, where MCPServer would answer isError."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call":
            name = (ctx.params or {}).get("name")
            if name not in {tool.name for tool in await server.list_tools()}:
                raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {name}")
        return await call_next(ctx)

    return middleware


def tools_app(*, stateless: bool) -> App:
    if stateless:
        server = tools_server("stateless-tools")
        return server.streamable_http_app(stateless_http=True, json_response=True)
    server = tools_server("legacy-tools")
    return handshake_only(server.streamable_http_app(stateless_http=False, json_response=False))


def slow_app() -> App:
    server: MCPServer = MCPServer("slow", log_level="WARNING")
    _add_sleep(server)
    return handshake_only(server.streamable_http_app(stateless_http=False, json_response=False))


def handshake_only(app: App) -> App:
    """Refuse requests that announce a protocol version newer than the handshake's, the way
    servers published before the 2026-07-28 revision answer the discover probe."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        version = _header(scope, "mcp-protocol-version")
        if scope["type"] == "http" and version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            body = {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32000, "message": f"Bad Request: Unsupported protocol version: {version}"},
            }
            await JSONResponse(body, status_code=400)(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


def slow_close(app: App, delay_s: float) -> App:
    """Answer the DELETE that ends a session only after `delay_s`."""

    async def delayed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "DELETE":
            await asyncio.sleep(delay_s)
        await app(scope, receive, send)

    return delayed


def require_bearer(app: App, token: str) -> App:
    return require_header(app, "Authorization", f"Bearer {token}")


def require_header(app: App, name: str, value: str) -> App:
    """Answer 401 to any request whose header `name` is not `value` (an API key's header)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _header(scope, name.lower()) != value:
            answer = Response("unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
            await answer(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == wanted), None)


async def _status(request: Request) -> Response:
    """/status/{code}: that status with a plain body; /status/{code}/jsonrpc: with a JSON-RPC error."""
    code = int(request.path_params["code"])
    if request.path_params.get("body") == "jsonrpc":
        error = {"code": -32602, "message": f"refused with HTTP {code}"}
        return JSONResponse({"jsonrpc": "2.0", "id": await _request_id(request), "error": error}, code)
    return Response(f"HTTP {code}", status_code=code, media_type="text/plain")


async def _garbage(request: Request) -> Response:
    kind = request.path_params["kind"]
    request_id = await _request_id(request)
    if kind == "not-json":
        return Response("<html>surprise</html>", media_type="application/json")
    if kind == "not-jsonrpc":
        return JSONResponse({"hello": "world"})
    if kind == "wrong-content-type":
        body = {"jsonrpc": "2.0", "id": request_id, "result": {}}
        return JSONResponse(body, headers={"content-type": "text/html"})
    if kind == "no-result":
        return JSONResponse({"jsonrpc": "2.0", "id": request_id})
    if kind == "accepted":
        return Response(status_code=202)
    if kind == "sse-without-answer":
        return StreamingResponse(iter([b": nothing to say\n\n"]), media_type="text/event-stream")
    if kind == "long-error":
        error = {"code": -32000, "message": LONG_ERROR_MESSAGE}
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, "error": error})
    return Response(status_code=404)


async def _redirect(request: Request) -> Response:
    """/redirect?to=<url>: 307 to that URL (which keeps the method and body, so it is tempting)."""
    return Response(status_code=307, headers={"location": request.query_params["to"]})


async def _stall(request: Request) -> Response:
    """Accept the request and never answer within any test's deadline."""
    await asyncio.sleep(60)
    return Response(status_code=204)


async def _request_id(request: Request) -> Any:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body.get("id") if isinstance(body, dict) else None


DEEPWIKI_TOOLS = ("read_wiki_structure", "read_wiki_contents", "ask_question")


def deepwiki_app() -> App:
    server: MCPServer = MCPServer("DeepWiki", log_level="WARNING")

    @server.tool()
    def read_wiki_structure(repoName: str) -> str:  # DeepWiki's argument name
        return f"- 1 Overview of {repoName}\n- 2 Getting started"

    @server.tool()
    def read_wiki_contents(repoName: str) -> str:
        return f"# {repoName}\nThe wiki of {repoName}."

    @server.tool()
    def ask_question(repoName: str, question: str) -> str:
        return f"About {repoName}: {question} -> it is documented."

    return server.streamable_http_app(stateless_http=True, json_response=True)


def canned_app() -> App:
    methods = ["GET", "POST", "DELETE"]
    return Starlette(
        routes=[
            Route("/status/{code:int}", _status, methods=methods),
            Route("/status/{code:int}/{body}", _status, methods=methods),
            Route("/garbage/{kind}", _garbage, methods=methods),
            Route("/redirect", _redirect, methods=methods),
            Route("/stall", _stall, methods=methods),
        ]
    )


def host_app() -> App:
    tools = tools_app(stateless=True)
    canned = canned_app()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(MCP_PATH):
            await canned(scope, receive, send)
            return
        await tools(scope, receive, send)  # the MCP endpoint, and the lifespan its sessions need

    return app


class LoopbackServer:
    """An ASGI app served by uvicorn on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: App, *, name: str) -> None:
        self.name = name
        self.log = RequestLog(app)
        config = uvicorn.Config(
            self.log,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="auto",
            # Requests still in flight at the end (a stalled answer, a sleeping tool) get a second.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"mcp-{name}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The MCP endpoint."""
        return self.base_url + MCP_PATH

    def url_for(self, path: str) -> str:
        return self.base_url + path

    def start(self, timeout_s: float = 10.0) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} MCP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""An MCP server on loopback that answers one method with a body that never ends.

`flood_app()` serves the stateless tools of `tools_app(stateless=True)` under `/flood/<kind>/mcp`
and answers one method, chosen by the kind, with an endless stream of bytes:

- `list-json`: tools/list as JSON, tool after tool;
- `call-json`: tools/call as JSON, a text that never closes;
- `call-sse`: tools/call as an SSE stream of notifications, never the answer;
- `error-json`: tools/call as an HTTP 400 whose JSON error body never ends;
- `declared`: tools/call as JSON announcing a Content-Length of a terabyte;
- `gzip`: tools/call as a small gzip-encoded JSON answer (a compressed body can inflate without bound).

`bulky_app()` is an honest server whose one tool answers as much as it is asked for.

The flood server stops only when the client drops the connection; `FloodLog.cut_off(kind)` counts the
endless answers that ended that way, so a test can see that the client hung up.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections import Counter
from typing import Any

from mcp.server import MCPServer
from pydantic import BaseModel

from tests.fakes.mcp_servers import MCP_PATH, tools_app
from tests.fakes.request_log import App, Message, Receive, Scope, Send

FLOODED_METHOD = {
    "list-json": "tools/list",
    "call-json": "tools/call",
    "call-sse": "tools/call",
    "error-json": "tools/call",
    "declared": "tools/call",
    "gzip": "tools/call",
}
CHUNK_BYTES = 64 * 1024


class FloodLog:
    def __init__(self) -> None:
        self._cut_off: Counter[str] = Counter()
        self._lock = threading.Lock()

    def cut_off(self, kind: str) -> int:
        with self._lock:
            return self._cut_off[kind]

    def saw_cut_off(self, kind: str) -> None:
        with self._lock:
            self._cut_off[kind] += 1


def flood_app(log: FloodLog) -> App:
    inner = tools_app(stateless=True)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        parts = scope.get("path", "").strip("/").split("/")
        if (
            scope["type"] != "http"
            or len(parts) != 3
            or parts[0] != "flood"
            or parts[1] not in FLOODED_METHOD
        ):
            await inner(scope, receive, send)
            return
        kind = parts[1]
        body = await _read_body(receive)
        message = _json(body)
        if scope["method"] != "POST" or message.get("method") != FLOODED_METHOD[kind]:
            await inner(
                {**scope, "path": MCP_PATH, "raw_path": MCP_PATH.encode()}, _replay(body, receive), send
            )
            return
        if kind == "gzip":
            await _gzipped(message.get("id"), send)
            return
        await _flood(kind, message.get("id"), receive, send, log)

    return app


async def _flood(kind: str, request_id: Any, receive: Receive, send: Send, log: FloodLog) -> None:
    head, filler = _endless_body(kind, request_id)
    headers = [(b"content-type", b"text/event-stream" if kind == "call-sse" else b"application/json")]
    if kind == "declared":
        headers.append((b"content-length", str(10**12).encode()))
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch())
    await send(
        {"type": "http.response.start", "status": 400 if kind == "error-json" else 200, "headers": headers}
    )
    await send({"type": "http.response.body", "body": head, "more_body": True})
    while not gone.is_set():
        await send({"type": "http.response.body", "body": filler, "more_body": True})
        await asyncio.sleep(0)  # a dropped connection's sends return at once: let the watcher see it
    await watcher
    log.saw_cut_off(kind)


def _endless_body(kind: str, request_id: Any) -> tuple[bytes, bytes]:
    """The start of the answer, and what repeats after it forever."""
    if kind == "list-json":
        head = {"jsonrpc": "2.0", "id": request_id, "result": {"tools": []}}
        tool = json.dumps({"name": "t", "inputSchema": {"type": "object", "description": "x" * 900}})
        return json.dumps(head)[: -len("]}}")].encode(), _repeat((tool + ",").encode())
    if kind == "call-sse":
        note = {
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": {"level": "info", "data": "x" * 900},
        }
        return b"", _repeat(f"event: message\ndata: {json.dumps(note)}\n\n".encode())
    if kind == "error-json":
        return (
            f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"error":{{"code":-32000,"message":"'.encode(),
            b"x" * CHUNK_BYTES,
        )
    head = f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"result":{{"content":[{{"type":"text","text":"'
    return head.encode(), b"x" * CHUNK_BYTES


def _repeat(unit: bytes) -> bytes:
    return unit * max(CHUNK_BYTES // len(unit), 1)


async def _gzipped(request_id: Any, send: Send) -> None:
    answer = {"jsonrpc": "2.0", "id": request_id, "result": {"content": [{"type": "text", "text": "hi"}]}}
    body = gzip.compress(json.dumps(answer).encode())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-encoding", b"gzip"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _json(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


class Bulk(BaseModel):
    items: list[str]


def bulky_app() -> App:
    """A stateless server whose `bulky{count}` answers `count` items of 100 characters, as
    structured content and as text (the SDK serialises the model into both)."""
    server: MCPServer = MCPServer("bulky", log_level="WARNING")

    @server.tool(description="Answer count items of 100 characters.")
    def bulky(count: int) -> Bulk:
        return Bulk(items=["x" * 100] * count)

    return server.streamable_http_app(stateless_http=True, json_response=True)

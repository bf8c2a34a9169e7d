"""An ASGI middleware that records every HTTP request a test server receives, and its answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class SeenRequest:
    http_method: str
    path: str
    headers: dict[str, str]
    rpc_method: str | None
    status: int | None = None
    content_type: str | None = None
    body: bytes = b""


class RequestLog:
    """Wraps an app; `requests` lists what arrived, in order (thread-safe to read)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._seen: list[SeenRequest] = []
        self._lock = threading.Lock()

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    def tagged(self, header: str, value: str) -> list[SeenRequest]:
        """The requests that carried `header: value` (how a test finds its own on a shared server)."""
        name = header.lower()
        return [seen for seen in self.requests if seen.headers.get(name) == value]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        seen = SeenRequest(
            http_method=scope["method"],
            path=scope["path"],
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            rpc_method=_rpc_method(body),
            body=body,
        )
        with self._lock:
            self._seen.append(seen)

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen.status = message["status"]
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]}
                seen.content_type = headers.get("content-type")
            await send(message)

        await self.app(scope, replay, observe)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _rpc_method(body: bytes) -> str | None:
    try:
        message = json.loads(body) if body else None
    except ValueError:
        return None
    if isinstance(message, list) and message:
        message = message[0]
    return message.get("method") if isinstance(message, dict) else None

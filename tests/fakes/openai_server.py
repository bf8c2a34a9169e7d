"""An OpenAI-compatible Chat Completions server on loopback, and the scripting that the Anthropic
and Gemini fakes (`anthropic_server`, `gemini_server`) share with it.

A test scripts the next answers (`LlmServer.script.then(...)`):

- `Text(content, input_tokens, output_tokens)`: an assistant message;
- `Calls([(name, arguments), ...])`: tool calls (`raw_arguments` sends a broken arguments string);
- `Fail(status, message, retry_after=...)`: an error in the provider's own format, with its
  `Retry-After` hint (Gemini's goes in the body, as Google sends it);
- `Raw(body, status, content_type)`: exactly these bytes (garbage);
- `Slow(seconds, then)`: `then`, after a pause; `Trickle(seconds_between, chunks)`: a 200 whose
  body arrives a byte at a time.

With nothing scripted, the server echoes the last user message (`"echo: <text>"`), so that agent
frameworks can hold a conversation with it. Every request is recorded (`script.received`: path,
query, headers, JSON body). When the server has an `api_key`, a request without it gets the
provider's 401.

The OpenAI flavour is `POST /v1/chat/completions` (base URL `LlmServer.base_url + "/v1"`) and
`GET /v1/models`, in the Chat Completions wire format (``id``, ``object``, ``created``,
``choices[].message``, ``tool_calls[].function.arguments`` as a JSON string, ``usage``). It
answers ``stream: true`` with 400: server-sent events are not implemented.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.mcp_servers import LoopbackServer

FAKE_MODELS = ("gpt-5.4-mini", "gpt-5.4", "llama3.2")


@dataclass(frozen=True)
class Text:
    content: str
    input_tokens: int = 11
    output_tokens: int = 7
    finish: str | None = None  # the provider's own word; its usual one when None


@dataclass(frozen=True)
class Calls:
    calls: list[tuple[str, dict[str, Any]]]
    input_tokens: int = 13
    output_tokens: int = 9
    content: str | None = None
    raw_arguments: str | None = None  # sent instead of every call's JSON arguments


@dataclass(frozen=True)
class Fail:
    status: int
    message: str = "scripted failure"
    retry_after: str | None = None


@dataclass(frozen=True)
class Raw:
    body: bytes
    status: int = 200
    content_type: str = "text/plain"


@dataclass(frozen=True)
class Slow:
    seconds: float
    then: Reply


@dataclass(frozen=True)
class Trickle:
    seconds_between: float
    chunks: int


Reply = Text | Calls | Fail | Raw | Slow | Trickle


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: Any


class Script:
    """The answers still to give, in order, and the requests received (thread-safe)."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._received: list[Received] = []
        self._lock = threading.Lock()

    def then(self, *replies: Reply) -> Script:
        with self._lock:
            self._replies.extend(replies)
        return self

    def next_reply(self) -> Reply | None:
        with self._lock:
            return self._replies.popleft() if self._replies else None

    def record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._replies)

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self._received.clear()


class Flavour(Protocol):
    """How one provider's API looks on the wire."""

    def key_of(self, request: Request) -> str | None: ...

    def check(self, request: Request, body: Any) -> Response | None:
        """An error answer when the request breaks the API's rules."""
        ...

    def last_user_text(self, body: Any) -> str: ...

    def render_text(self, reply: Text, body: Any, request: Request) -> dict[str, Any]: ...

    def render_calls(self, reply: Calls, body: Any, request: Request) -> dict[str, Any]: ...

    def render_error(self, reply: Fail) -> Response: ...

    def extra_routes(self) -> list[Route]:
        """Routes besides the scripted POST (OpenAI's model list)."""
        ...


async def answer(script: Script, flavour: Flavour, api_key: str | None, request: Request) -> Response:
    """Record the request, check it, then give the next scripted answer (or the echo)."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    headers = {name.lower(): value for name, value in request.headers.items()}
    script.record(Received(request.url.path, request.url.query, headers, body))
    if api_key is not None and flavour.key_of(request) != api_key:
        return flavour.render_error(Fail(401, "Invalid API key"))
    if not isinstance(body, dict):
        return flavour.render_error(Fail(400, "The body must be a JSON object"))
    refused = flavour.check(request, body)
    if refused is not None:
        return refused
    reply = script.next_reply() or Text("echo: " + flavour.last_user_text(body))
    return await _render(reply, flavour, body, request)


async def _render(reply: Reply, flavour: Flavour, body: Any, request: Request) -> Response:
    if isinstance(reply, Slow):
        if not await _pause(reply.seconds, request):
            return Response(status_code=499)  # nobody is listening any more
        return await _render(reply.then, flavour, body, request)
    if isinstance(reply, Text):
        return JSONResponse(flavour.render_text(reply, body, request))
    if isinstance(reply, Calls):
        return JSONResponse(flavour.render_calls(reply, body, request))
    if isinstance(reply, Fail):
        return flavour.render_error(reply)
    if isinstance(reply, Raw):
        return Response(reply.body, status_code=reply.status, media_type=reply.content_type)
    return StreamingResponse(_trickle(reply), media_type="application/json")


async def _pause(seconds: float, request: Request) -> bool:
    """Wait, unless the client leaves first (so that a stopping server has nothing in flight)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0:
        if await request.is_disconnected():
            return False
        await asyncio.sleep(min(left, 0.05))
    return True


async def _trickle(reply: Trickle) -> AsyncIterator[bytes]:
    yield b"{"
    for _ in range(reply.chunks):
        await asyncio.sleep(reply.seconds_between)
        yield b" "
    yield b"}"


@dataclass
class LlmServer:
    """A provider fake on 127.0.0.1: start it with `with`, script it, read what it received."""

    flavour: Flavour
    name: str
    api_key: str | None = None
    script: Script = field(default_factory=Script)

    def __post_init__(self) -> None:
        self._server = LoopbackServer(self.flavour_app(), name=self.name)

    def flavour_app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            return await answer(self.script, self.flavour, self.api_key, request)

        return Starlette(
            routes=[*self.flavour.extra_routes(), Route("/{path:path}", endpoint, methods=["POST"])]
        )

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def __enter__(self) -> LlmServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


class OpenAIFlavour:
    PATH = "/v1/chat/completions"

    def key_of(self, request: Request) -> str | None:
        value = request.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None

    def check(self, request: Request, body: Any) -> Response | None:
        if request.url.path != self.PATH:
            return self.render_error(Fail(404, f"Unknown path {request.url.path}"))
        if body.get("stream") is True:
            return self.render_error(
                Fail(400, "stream=true is not supported by this server: send stream=false")
            )
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
            return self.render_error(Fail(400, "model and messages are required"))
        return None

    def last_user_text(self, body: Any) -> str:
        users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        content = users[-1].get("content") if users else ""
        if isinstance(content, list):  # content parts
            return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        return str(content or "")

    def render_text(self, reply: Text, body: Any, request: Request) -> dict[str, Any]:
        message = {"role": "assistant", "content": reply.content, "refusal": None}
        return self._completion(
            body, message, reply.finish or "stop", reply.input_tokens, reply.output_tokens
        )

    def render_calls(self, reply: Calls, body: Any, request: Request) -> dict[str, Any]:
        calls = [
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": reply.raw_arguments if reply.raw_arguments is not None else json.dumps(args),
                },
            }
            for name, args in reply.calls
        ]
        message = {"role": "assistant", "content": reply.content, "tool_calls": calls, "refusal": None}
        return self._completion(body, message, "tool_calls", reply.input_tokens, reply.output_tokens)

    def _completion(
        self, body: Any, message: dict[str, Any], finish: str, input_tokens: int, output_tokens: int
    ) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_loopback",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
        }

    def render_error(self, reply: Fail) -> Response:
        kinds = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error"}
        error = {"message": reply.message, "type": kinds.get(reply.status, "server_error"), "param": None}
        error["code"] = "invalid_api_key" if reply.status == 401 else None
        headers = {"retry-after": reply.retry_after} if reply.retry_after is not None else {}
        return JSONResponse({"error": error}, status_code=reply.status, headers=headers)

    def extra_routes(self) -> list[Route]:
        async def models(request: Request) -> Response:
            data = [
                {"id": name, "object": "model", "created": 0, "owned_by": "loopback"} for name in FAKE_MODELS
            ]
            return JSONResponse({"object": "list", "data": data})

        return [Route("/v1/models", models, methods=["GET"])]


def openai_server(*, api_key: str | None = None) -> LlmServer:
    """An OpenAI-compatible server; its base URL for clients is ``server.base_url + "/v1"``."""
    return LlmServer(OpenAIFlavour(), name="openai", api_key=api_key)

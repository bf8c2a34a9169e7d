"""An Anthropic Messages server on loopback (`POST /v1/messages`), scripted like the OpenAI fake
(see `tests.fakes.openai_server` for the replies). Like the real API it requires the
`anthropic-version` header and ``max_tokens``, and reads the key from `x-api-key`."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.openai_server import Calls, Fail, LlmServer, Text

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class AnthropicFlavour:
    PATH = "/v1/messages"

    def key_of(self, request: Request) -> str | None:
        return request.headers.get("x-api-key")

    def check(self, request: Request, body: Any) -> Response | None:
        if request.url.path != self.PATH:
            return self.render_error(Fail(404, f"Unknown path {request.url.path}"))
        if request.headers.get("anthropic-version") is None:
            return self.render_error(Fail(400, "anthropic-version: header is required"))
        if body.get("stream") is True:
            return self.render_error(Fail(400, "stream=true is not supported by this server"))
        if not isinstance(body.get("max_tokens"), int):
            return self.render_error(Fail(400, "max_tokens: Field required"))
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
            return self.render_error(Fail(400, "model and messages are required"))
        return None

    def last_user_text(self, body: Any) -> str:
        users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        content = users[-1].get("content") if users else ""
        if isinstance(content, list):
            return " ".join(
                str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
            )
        return str(content or "")

    def render_text(self, reply: Text, body: Any, request: Request) -> dict[str, Any]:
        blocks = [{"type": "text", "text": reply.content}]
        return self._message(
            body, blocks, reply.finish or "end_turn", reply.input_tokens, reply.output_tokens
        )

    def render_calls(self, reply: Calls, body: Any, request: Request) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.content}] if reply.content else []
        blocks += [
            {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": name, "input": args}
            for name, args in reply.calls
        ]
        return self._message(body, blocks, "tool_use", reply.input_tokens, reply.output_tokens)

    def _message(
        self, body: Any, blocks: list[dict[str, Any]], stop: str, input_tokens: int, output_tokens: int
    ) -> dict[str, Any]:
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }

    def render_error(self, reply: Fail) -> Response:
        error = {"type": _ERROR_TYPES.get(reply.status, "api_error"), "message": reply.message}
        headers = {"retry-after": reply.retry_after} if reply.retry_after is not None else {}
        return JSONResponse({"type": "error", "error": error}, status_code=reply.status, headers=headers)

    def extra_routes(self) -> list[Route]:
        return []


def anthropic_server(*, api_key: str | None = None) -> LlmServer:
    """An Anthropic-compatible server; its base URL is ``server.base_url``."""
    return LlmServer(AnthropicFlavour(), name="anthropic", api_key=api_key)

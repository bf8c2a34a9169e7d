"""A Google Gemini server on loopback (`POST /v1beta/models/{model}:generateContent`), scripted
like the OpenAI fake (see `tests.fakes.openai_server`). The key is read from `x-goog-api-key`; a
429's retry hint goes in the error body as `google.rpc.RetryInfo`, as Google sends it."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.openai_server import Calls, Fail, LlmServer, Text

_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")
_STATUSES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}


class GeminiFlavour:
    def key_of(self, request: Request) -> str | None:
        return request.headers.get("x-goog-api-key")

    def check(self, request: Request, body: Any) -> Response | None:
        if _PATH.match(request.url.path) is None:
            return self.render_error(Fail(404, f"Unknown path {request.url.path}"))
        if not isinstance(body.get("contents"), list) or not body["contents"]:
            return self.render_error(
                Fail(400, "* GenerateContentRequest.contents: contents is not specified")
            )
        return None

    def last_user_text(self, body: Any) -> str:
        users = [c for c in body["contents"] if isinstance(c, dict) and c.get("role", "user") == "user"]
        parts = users[-1].get("parts", []) if users else []
        return " ".join(str(p["text"]) for p in parts if isinstance(p, dict) and "text" in p)

    def render_text(self, reply: Text, body: Any, request: Request) -> dict[str, Any]:
        parts = [{"text": reply.content}]
        return self._response(request, parts, reply.finish or "STOP", reply.input_tokens, reply.output_tokens)

    def render_calls(self, reply: Calls, body: Any, request: Request) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [{"text": reply.content}] if reply.content else []
        parts += [{"functionCall": {"name": name, "args": args}} for name, args in reply.calls]
        return self._response(request, parts, "STOP", reply.input_tokens, reply.output_tokens)

    def _response(
        self,
        request: Request,
        parts: list[dict[str, Any]],
        finish: str,
        input_tokens: int,
        output_tokens: int,
    ) -> dict[str, Any]:
        match = _PATH.match(request.url.path)
        return {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": input_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": input_tokens + output_tokens,
            },
            "modelVersion": match.group("model") if match else "unknown",
            "responseId": "loopback",
        }

    def render_error(self, reply: Fail) -> Response:
        if reply.status == 401:
            # Google answers a wrong key with 400 and the reason in an ErrorInfo detail.
            info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            error = {
                "code": 400,
                "message": "API key not valid.",
                "status": "INVALID_ARGUMENT",
                "details": [info],
            }
            return JSONResponse({"error": error}, status_code=400)
        error: dict[str, Any] = {
            "code": reply.status,
            "message": reply.message,
            "status": _STATUSES.get(
                reply.status, "UNAVAILABLE" if reply.status >= 500 else "UNAUTHENTICATED"
            ),
        }
        if reply.retry_after is not None:
            error["details"] = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{reply.retry_after}s"}
            ]
        return JSONResponse({"error": error}, status_code=reply.status)

    def extra_routes(self) -> list[Route]:
        return []


def gemini_server(*, api_key: str | None = None) -> LlmServer:
    """A Gemini-compatible server; its base URL is ``server.base_url``."""
    return LlmServer(GeminiFlavour(), name="gemini", api_key=api_key)

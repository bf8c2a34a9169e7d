"""Errors of the OpenAI-compatible routes as OpenAI's error object, for `auralink.http`.

``{"error": {"message", "type", "param", "code", "request_id"}}``: the status and ``code`` are the
product's (docs/api.md), ``type`` is OpenAI's word for the status, ``param`` the request field at
fault when one is. OpenAI's clients retry 5xx answers on their own; an error the gateway knows a
retry cannot mend (a refused key, a request the provider rejected) says so with
``x-should-retry: false``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from auralink.http import ErrorAnswer

_TYPES = {
    HTTPStatus.UNAUTHORIZED: "authentication_error",
    HTTPStatus.FORBIDDEN: "permission_error",
    HTTPStatus.TOO_MANY_REQUESTS: "rate_limit_error",
}
# Where a field path starts: the part of the request, which OpenAI's `param` does not name.
_PARTS = ("body", "query", "path", "header")


def openai_error_body(answer: ErrorAnswer) -> tuple[dict[str, Any], dict[str, str]]:
    kind = _TYPES.get(answer.status)
    if kind is None:
        kind = (
            "server_error" if answer.status >= HTTPStatus.INTERNAL_SERVER_ERROR else "invalid_request_error"
        )
    fields = _fields(answer.details)
    param = fields[0][0] if fields else None
    message = answer.message
    if answer.code == "validation_failed" and fields:
        # The product's generic message with its list of details; OpenAI's has room for one line.
        param_name, problem = fields[0]
        more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
        message = f"{param_name}: {problem}{more}" if param_name else f"{problem}{more}"
    error: dict[str, Any] = {"message": message, "type": kind, "param": param, "code": answer.code}
    if answer.request_id:
        error["request_id"] = answer.request_id
    headers = {"x-should-retry": "false"} if answer.retryable is False else {}
    return {"error": error}, headers


def _fields(details: Any) -> list[tuple[str | None, str]]:
    """(param, message) of each detail that names a field: ``body.messages.0.content`` is
    ``messages[0].content``, as OpenAI writes it; the request as a whole is None."""
    if not isinstance(details, list):
        return []
    found = []
    for detail in details:
        if isinstance(detail, dict) and isinstance(detail.get("field"), str):
            found.append((_param(detail["field"]), str(detail.get("message", ""))))
    return found


def _param(field: str) -> str | None:
    parts = field.split(".")
    if parts and parts[0] in _PARTS:
        parts = parts[1:]
    param = ""
    for part in parts:
        param += f"[{part}]" if part.isdigit() else f".{part}" if param else part
    return param or None

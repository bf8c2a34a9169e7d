"""One JSON request to a provider's HTTP API, under one wall-clock deadline, through the SSRF guard.

The client is httpx2 (the MCP SDK's), because the SSRF guard's transport
(`auralink.ssrf.transport.guarded_transport`) is built for it and is asynchronous: like the MCP
client, each call runs in an event loop of its own, which also gives every call a hard deadline
(`anyio.fail_after`) that a server trickling bytes cannot stretch. Every connection, to a
provider's own host or to a user's OpenAI-compatible base URL, goes through the guard; a user's
base URL is also checked up front with `check_endpoint` (scheme, host, addresses).

Redirects are never followed. An answer is read up to `MAX_ANSWER_BYTES`. HTTP failures become
`LlmUpstreamError` with a stable code (`auralink.llm.errors`), and a read that outlives the deadline
`LlmTimeout`. Messages quote the provider's own error text, truncated and with the key scrubbed
out, and never the request.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
import httpx2

from auralink.clock import Clock
from auralink.llm.errors import (
    AUTH_FAILED,
    BAD_REQUEST,
    PROTOCOL_ERROR,
    RATE_LIMITED,
    SERVER_ERROR,
    UNREACHABLE,
    LlmTimeout,
    LlmUpstreamError,
)
from auralink.settings import get_settings
from auralink.ssrf import check_endpoint
from auralink.ssrf.transport import guarded_transport, refusal_of

CONNECT_TIMEOUT_S = 5.0
MAX_ANSWER_BYTES = 8 * 1024 * 1024
MAX_PROVIDER_MESSAGE = 300
_AUTH_STATUSES = frozenset({401, 403})
# Statuses that say "try again" although they are 4xx (OpenAI's own SDK retries these too).
_TRANSIENT_4XX = frozenset({408, 409})
# Google answers a refused key with 400 and says so in an ErrorInfo detail.
_GOOGLE_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})
_GOOGLE_RETRY_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


@dataclass(frozen=True)
class JsonPost:
    """A POST of ``body`` to ``url``. ``secret`` is the key the headers carry, scrubbed from any
    message; it and the headers stay out of the repr."""

    provider: str  # as people read it: "OpenAI", "Anthropic"...
    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: httpx2.Headers
    raw: bytes


def loopback_allowed(explicit: bool | None) -> bool:
    """Whether loopback endpoints may be called: as told, else as ALLOW_LOOPBACK_ENDPOINTS says."""
    return explicit if explicit is not None else get_settings().allow_loopback_endpoints


def base_url_to_call(base_url: str | None, default: str, *, allow_loopback: bool) -> str:
    """The provider's own base URL, or a user's once the SSRF guard accepts it (no trailing '/')."""
    if base_url is None:
        return default
    return check_endpoint(base_url, allow_loopback=allow_loopback).url.rstrip("/")


def post_json(post: JsonPost, *, deadline_s: float, allow_loopback: bool, clock: Clock) -> dict[str, Any]:
    """The JSON object the provider answered with 2xx; a domain error for anything else."""
    if deadline_s <= 0:
        raise LlmTimeout(f"No time was left to call {post.provider}")

    async def main() -> HttpAnswer:
        with anyio.fail_after(deadline_s):
            return await _send(post, deadline_s, allow_loopback)

    try:
        answer = _run_in_own_loop(main)
    except TimeoutError:
        raise _timeout(post.provider, deadline_s) from None
    except httpx2.RequestError as exc:
        raise _transport_failure(post.provider, exc, deadline_s) from None
    if not 200 <= answer.status < 300:
        raise failure_for_status(post.provider, answer, post.secret, now=clock.now())
    return _json_object(post.provider, answer.raw)


async def _send(post: JsonPost, deadline_s: float, allow_loopback: bool) -> HttpAnswer:
    timeout = httpx2.Timeout(deadline_s, connect=min(CONNECT_TIMEOUT_S, deadline_s))
    transport = guarded_transport(allow_loopback=allow_loopback, verify=_tls_context())
    async with (
        httpx2.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False) as client,
        client.stream("POST", post.url, json=post.body, headers=post.headers) as response,
    ):
        raw = await _read_capped(post.provider, response)
        return HttpAnswer(response.status_code, response.headers, raw)


async def _read_capped(provider: str, response: httpx2.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise LlmUpstreamError(
                f"{provider}'s answer is larger than {MAX_ANSWER_BYTES} bytes", code=PROTOCOL_ERROR
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _run_in_own_loop[T](main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` in an event loop of its own; from a thread that already runs one (an async
    framework calling a sync model), in a worker thread, since a thread holds one loop at most."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(main)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-call") as pool:
        return pool.submit(anyio.run, main).result()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~20 ms: once per container, not once per call.
    return httpx2.create_ssl_context()


def _timeout(provider: str, deadline_s: float) -> LlmTimeout:
    return LlmTimeout(f"{provider} did not answer within {deadline_s:.3g} s")


def _transport_failure(provider: str, exc: httpx2.RequestError, deadline_s: float) -> Exception:
    refusal = refusal_of(exc)
    if refusal is not None:
        # The address changed since the base URL was checked (DNS rebinding): refused, not retried.
        return refusal
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout):
        return LlmUpstreamError(f"{provider} cannot be reached", code=UNREACHABLE, retryable=True)
    if isinstance(exc, httpx2.TimeoutException):
        return _timeout(provider, deadline_s)
    if isinstance(exc, httpx2.RemoteProtocolError | httpx2.DecodingError):
        return LlmUpstreamError(f"{provider}'s HTTP answer is malformed", code=PROTOCOL_ERROR)
    # The request may have reached the provider before the connection broke; it may have billed it.
    return LlmUpstreamError(f"The connection to {provider} broke during the call", code=UNREACHABLE)


def _json_object(provider: str, raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise LlmUpstreamError(f"{provider}'s answer is not JSON", code=PROTOCOL_ERROR) from None
    if not isinstance(answer, dict):
        raise LlmUpstreamError(f"{provider}'s answer is not a JSON object", code=PROTOCOL_ERROR)
    return answer


def failure_for_status(
    provider: str, answer: HttpAnswer, secret: str | None, *, now: datetime
) -> LlmUpstreamError:
    """The domain error for a non-2xx answer: 401/403 (and Google's refused-key 400)
    `llm_auth_failed`; 429 `llm_rate_limited`, 5xx, 408 and 409 `llm_server_error`, both retryable
    with the provider's retry hint; other 4xx `llm_bad_request`; 3xx (never followed)
    `llm_protocol_error`."""
    status = answer.status
    body = _maybe_json(answer.raw)
    details: dict[str, Any] = {"http_status": status}
    if status in _AUTH_STATUSES or _google_reason(body) in _GOOGLE_KEY_REASONS:
        # The provider's text may quote part of the key: it is left out altogether.
        return LlmUpstreamError(
            f"{provider} refused the API key (HTTP {status})", code=AUTH_FAILED, details=details
        )
    said = provider_message(body, answer.raw, secret)
    if said:
        details["provider_message"] = said
    suffix = f": {said}" if said else ""
    if status == 429:
        return LlmUpstreamError(
            f"{provider} is rate limiting the calls (HTTP 429){suffix}",
            code=RATE_LIMITED,
            retryable=True,
            retry_after_seconds=retry_after_seconds(answer.headers, body, now=now),
            details=details,
        )
    if status >= 500 or status in _TRANSIENT_4XX:
        return LlmUpstreamError(
            f"{provider} failed to answer (HTTP {status}){suffix}",
            code=SERVER_ERROR,
            retryable=True,
            retry_after_seconds=retry_after_seconds(answer.headers, body, now=now),
            details=details,
        )
    if status >= 400:
        return LlmUpstreamError(
            f"{provider} rejected the request (HTTP {status}){suffix}", code=BAD_REQUEST, details=details
        )
    return LlmUpstreamError(
        f"{provider} answered with a redirect (HTTP {status}), which is not followed; check the base URL",
        code=PROTOCOL_ERROR,
        details=details,
    )


def _maybe_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def provider_message(body: Any, raw: bytes, secret: str | None) -> str:
    """The provider's own error text (OpenAI, Anthropic and Google all nest it in ``error.message``),
    else the start of a plain-text body; truncated, with the key scrubbed out."""
    text: str | None = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
        elif isinstance(body.get("message"), str):
            text = body["message"]
    elif body is None:
        text = raw[: MAX_PROVIDER_MESSAGE * 4].decode("utf-8", errors="replace")
    if not text:
        return ""
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_PROVIDER_MESSAGE else text[: MAX_PROVIDER_MESSAGE - 1] + "…"


def retry_after_seconds(headers: Mapping[str, str], body: Any, *, now: datetime) -> int | None:
    """How long the provider asks us to wait, in whole seconds rounded up (what ``Retry-After``
    can say): ``retry-after-ms`` (OpenAI), ``Retry-After`` in seconds or as an HTTP date, or
    Google's ``RetryInfo.retryDelay`` in the error body."""
    seconds = _retry_after(headers, body, now=now)
    return None if seconds is None else math.ceil(seconds)


def _retry_after(headers: Mapping[str, str], body: Any, *, now: datetime) -> float | None:
    milliseconds = _finite(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    value = headers.get("retry-after")
    if value is not None:
        seconds = _finite(value)
        if seconds is not None:
            return seconds
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return max((moment - now).total_seconds(), 0.0)
    return _google_retry_delay(body)


def _finite(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _google_detail(body: Any, kind: str) -> dict[str, Any] | None:
    """The first ``google.rpc.<kind>`` detail of a Google error body."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith(f"google.rpc.{kind}"):
            return detail
    return None


def _google_retry_delay(body: Any) -> float | None:
    detail = _google_detail(body, "RetryInfo")
    # A delay is a few characters ("17s", "0.5s"): read no more of the provider's text than that.
    match = _GOOGLE_RETRY_DELAY.match(str(detail.get("retryDelay", ""))[:32]) if detail else None
    return float(match.group(1)) if match else None


def _google_reason(body: Any) -> str | None:
    detail = _google_detail(body, "ErrorInfo")
    return str(detail.get("reason")) if detail else None

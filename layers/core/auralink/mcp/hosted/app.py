"""The Lambda side of the MCP servers AuraLink hosts: one API Gateway request, one MCP exchange.

Each invocation is one HTTP request of MCP's streamable HTTP transport, served statelessly with
JSON replies (API Gateway's HTTP APIs do not stream): the 2026-07-28 revision (``server/discover``,
every request self-contained) and legacy clients' ``initialize`` handshake both work, since a
stateless server keeps nothing between requests. GET and DELETE answer 405: there is no stream to
open and no session to end.

The MCP routes have no API Gateway authorizer (the gateway calls the hosted servers with its own
service tokens, and a 401 must point MCP clients to the resource's metadata, which the authorizer's
own 401 cannot), so every request is authenticated here, before the SDK sees it: a gateway token
or a user's JWT meant for this endpoint (`auralink.mcp.resource`; a server may refuse gateway
tokens), else 401 with a JSON-RPC body and ``WWW-Authenticate: Bearer resource_metadata=...``.
The SDK's own `RequireAuthMiddleware` is not used: it runs inside the per-invocation app, answers
``invalid_token`` also to a request that sent no token, and its body is not a JSON-RPC error.
The caller's identity, the API's own URL and the invocation's remaining time are then available
to the tools through `current_caller()`, `current_api_base_url()` and `remaining_ms()`.

The `MCPServer` (its tool registrations) lives for the container; its ASGI app is built per
invocation, because the SDK's session manager runs once per app and a warm container serves
many invocations.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import anyio
from aws_lambda_powertools.utilities.typing import LambdaContext
from mcp.server import MCPServer, Server
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import INTERNAL_ERROR, INVALID_REQUEST

from auralink import edge, errors
from auralink.auth import Identity
from auralink.edge import LambdaHandler
from auralink.mcp import service_token
from auralink.mcp.resource import ProtectedResource, resource_for_event
from auralink.observability import MetricName, MetricUnit, logger, metrics
from auralink.settings import get_settings

# A server with static tool registrations, or the SDK's lower-level server with handlers of its own.
HostedServer = MCPServer[Any] | Server[Any]

_TEXT_TYPES = ("application/json", "text/")


@dataclass(frozen=True)
class Invocation:
    """Who called, where the API is, and when the function's time runs out (``time.monotonic()``)."""

    identity: Identity
    api_base_url: str | None
    deadline: float


_invocation: ContextVar[Invocation | None] = ContextVar("hosted_mcp_invocation", default=None)


def _current() -> Invocation:
    invocation = _invocation.get()
    if invocation is None:
        raise errors.Unauthorized("no caller identity", code="identity_missing")
    return invocation


def current_caller() -> Identity:
    """The verified caller of the MCP request being served."""
    return _current().identity


def current_api_base_url() -> str | None:
    """The API's own public URL: configured, else the domain the request came in on."""
    return _current().api_base_url


def remaining_ms() -> int:
    """What is left of the invocation's time."""
    return max(0, int((_current().deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class HttpRequest:
    """The HTTP request an API Gateway payload 2.0 event describes."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    host: str
    source_ip: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> HttpRequest:
        """The request; `PayloadTooLarge` or `BadRequest` when its body cannot be taken."""
        context = event.get("requestContext") or {}
        http = context.get("http") or {}
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        if event.get("cookies"):
            # Payload 2.0 moves cookies out of the headers.
            headers["cookie"] = "; ".join(event["cookies"])
        body = edge.request_body(event)
        return cls(
            method=str(http.get("method") or "GET").upper(),
            path=event.get("rawPath") or http.get("path") or "/",
            query=event.get("rawQueryString") or "",
            headers=headers,
            body=body,
            host=headers.get("host") or context.get("domainName") or "",
            source_ip=str(http.get("sourceIp") or "0.0.0.0"),  # noqa: S104  # an address, not a bind
        )

    def asgi_scope(self) -> dict[str, Any]:
        host, _, port = self.host.partition(":")
        scheme = self.headers.get("x-forwarded-proto", "https")
        default_port = 443 if scheme == "https" else 80
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": scheme,
            "path": self.path,
            "raw_path": self.path.encode("utf-8"),
            "query_string": self.query.encode("utf-8"),
            "root_path": "",
            "headers": [
                (name.encode("latin-1"), value.encode("utf-8")) for name, value in self.headers.items()
            ],
            "server": (host, int(port) if port.isdigit() else default_port),
            "client": (self.source_ip, 0),
            "state": {},
        }

    def jsonrpc_message(self) -> dict[str, Any]:
        """The JSON-RPC message in the body, or an empty dict when the body is not one."""
        try:
            message = json.loads(self.body)
        except (ValueError, RecursionError):
            return {}
        return message if isinstance(message, dict) else {}


@dataclass
class HttpReply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def to_lambda_response(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in self.headers:
            # HTTP APIs take one value per header: repeated headers are joined, as HTTP allows.
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        content_type = headers.get("content-type", "")
        if not self.body or any(kind in content_type for kind in _TEXT_TYPES):
            try:
                return {"statusCode": self.status, "headers": headers, "body": self.body.decode("utf-8")}
            except UnicodeDecodeError:
                pass  # text in another charset travels as bytes
        encoded = base64.b64encode(self.body).decode("ascii")
        return {"statusCode": self.status, "headers": headers, "body": encoded, "isBase64Encoded": True}


def jsonrpc_error_reply(
    status: HTTPStatus,
    code: int,
    message: str,
    *,
    request_id: Any = None,
    data: Any = None,
    headers: list[tuple[str, str]] | None = None,
) -> HttpReply:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    body = {"jsonrpc": "2.0", "id": request_id if isinstance(request_id, str | int) else None, "error": error}
    return HttpReply(
        int(status),
        [("content-type", "application/json"), *(headers or [])],
        json.dumps(body, separators=(",", ":")).encode("utf-8"),
    )


class _Exchange:
    """The ASGI side of one request: hands the body over once, collects the response."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._body_sent = False
        self._finished = anyio.Event()
        self.reply: HttpReply | None = None
        self._chunks: list[bytes] = []

    async def receive(self) -> dict[str, Any]:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        # Lambda has no connection to lose: the client "disconnects" once the answer is complete.
        await self._finished.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (name.decode("latin-1"), value.decode("latin-1")) for name, value in message["headers"]
            ]
            self.reply = HttpReply(int(message["status"]), headers)
        elif message["type"] == "http.response.body":
            self._chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.finish()

    def finish(self) -> None:
        if self.reply is not None:
            self.reply.body = b"".join(self._chunks)
        self._finished.set()


async def _serve(server: HostedServer, request: HttpRequest, invocation: Invocation) -> HttpReply:
    # Set inside the event loop: every task and worker thread the SDK starts from here inherits it.
    _invocation.set(invocation)
    settings = get_settings()
    app = server.streamable_http_app(
        streamable_http_path=request.path,
        stateless_http=True,
        json_response=True,
        max_request_body_size=settings.max_body_bytes,
        # API Gateway's own domain (or the local runtime's) is the only host this request can
        # carry; browsers may call only from the service's CORS origins.
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[request.host],
            allowed_origins=list(settings.cors_allow_origins),
        ),
    )
    exchange = _Exchange(request.body)
    async with app.router.lifespan_context(app):
        try:
            await app(request.asgi_scope(), exchange.receive, exchange.send)
        finally:
            exchange.finish()
    if exchange.reply is None:
        raise RuntimeError("the MCP server sent no response")
    return exchange.reply


def _unauthorized(
    error: errors.Unauthorized, request_id: Any, resource: ProtectedResource | None, *, token_sent: bool
) -> HttpReply:
    metrics.add_metric(name=MetricName.AUTH_FAILURES, unit=MetricUnit.Count, value=1)
    logger.info("MCP request rejected", extra={"error_code": error.code, "status": 401})
    refused = error if token_sent else None
    if resource is not None:
        challenge = resource.challenge(refused)
    else:
        challenge = f'Bearer error="invalid_token", error_description="{error.code}"' if refused else "Bearer"
    return jsonrpc_error_reply(
        HTTPStatus.UNAUTHORIZED,
        INVALID_REQUEST,
        f"Unauthorized: {error.message}",
        request_id=request_id,
        data={"code": error.code},
        headers=[("www-authenticate", challenge)],
    )


def _refused(error: errors.DomainError, request_id: Any = None) -> HttpReply:
    """A request refused before the MCP server sees it, with the status its code has everywhere."""
    status = edge.status_for(type(error))
    if status < HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.info("MCP request rejected", extra={"error_code": error.code, "status": int(status)})
        return jsonrpc_error_reply(
            status, INVALID_REQUEST, error.message, request_id=request_id, data={"code": error.code}
        )
    # For instance, the service cannot check the token: its secret or the issuer's keys are out of reach.
    logger.error("MCP request failed", extra={"error_code": error.code, "status": int(status)})
    message = error.message if status != HTTPStatus.INTERNAL_SERVER_ERROR else "Internal error"
    headers = list(edge.retry_after_header(error).items())
    return jsonrpc_error_reply(
        status, INTERNAL_ERROR, message, request_id=request_id, data={"code": error.code}, headers=headers
    )


def _caller_of(request: HttpRequest, resource: ProtectedResource | None, *, service_tokens: bool) -> Identity:
    header = request.headers.get("authorization")
    audience = resource.audience() if resource is not None else None
    if service_tokens:
        return service_token.identity_from_authorization_header(header, audience)
    return service_token.identity_from_user_authorization_header(header, audience)


def handle(
    server: HostedServer,
    event: dict[str, Any],
    context: LambdaContext | None = None,
    *,
    service_tokens: bool = True,
) -> dict[str, Any]:
    """Answer one API Gateway event with ``server``, for the caller its bearer token names.

    ``service_tokens`` False refuses the gateway's own tokens: only a user's JWT is accepted.
    """
    try:
        request = HttpRequest.from_event(event)
    except errors.DomainError as exc:
        return _refused(exc).to_lambda_response()
    message = request.jsonrpc_message()
    request_id = message.get("id")
    resource = resource_for_event(event, edge.route_of(event)[1] or request.path)
    try:
        identity = _caller_of(request, resource, service_tokens=service_tokens)
    except errors.Unauthorized as exc:
        token_sent = bool((request.headers.get("authorization") or "").strip())
        return _unauthorized(exc, request_id, resource, token_sent=token_sent).to_lambda_response()
    except errors.DomainError as exc:
        return _refused(exc, request_id).to_lambda_response()
    if request.method == "GET":
        # The SDK would open a server-to-client SSE stream, which a stateless server has no use
        # for and Lambda could not hold open: MCP's answer for "no stream here" is 405.
        return jsonrpc_error_reply(
            HTTPStatus.METHOD_NOT_ALLOWED,
            INVALID_REQUEST,
            "Method Not Allowed: this server offers no SSE stream",
            data={"code": "method_not_allowed"},
            headers=[("allow", "POST")],
        ).to_lambda_response()
    deadline = time.monotonic() + edge.remaining_ms(context) / 1000
    invocation = Invocation(identity, edge.api_base_url(event), deadline)
    return _answer(server, request, invocation, message).to_lambda_response()


def _answer(
    server: HostedServer, request: HttpRequest, invocation: Invocation, message: dict[str, Any]
) -> HttpReply:
    params = message.get("params")
    tool = params.get("name") if isinstance(params, dict) and message.get("method") == "tools/call" else None
    logger.append_keys(user_id=invocation.identity.sub)
    started = time.perf_counter()
    try:
        try:
            reply = anyio.run(_serve, server, request, invocation)
        except Exception:
            logger.exception("MCP request crashed", extra={"mcp_method": message.get("method")})
            reply = jsonrpc_error_reply(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                INTERNAL_ERROR,
                "Internal error",
                request_id=message.get("id"),
            )
        logger.info(
            "MCP request served",
            extra={
                "http_method": request.method,
                "mcp_method": message.get("method"),
                "tool": tool if isinstance(tool, str) else None,
                "status": reply.status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return reply
    finally:
        logger.remove_keys(["user_id"])


def lambda_handler_for(server: HostedServer, *, service_tokens: bool = True) -> LambdaHandler:
    """The entry point of a hosted MCP server's function, under the service's decorator stack."""
    return edge.entry_point(functools.partial(handle, server, service_tokens=service_tokens))

"""API Gateway (HTTP API) emulation: HTTP requests on loopback become payload format 2.0 events.

Routes come from the template's `HttpApi` events (matched by `infra.local.routes`). Routes that are
not `Authorizer: NONE` get the JWT authorizer's check first; its failures and unknown routes answer
with API Gateway's own bodies.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import jwt

from auralink.errors import Unauthorized
from infra.local.lambdas import ACCOUNT_ID, FunctionError, TooManyRequests
from infra.local.routes import RouteMatch, RouteTable

log = logging.getLogger("infra.local.apigw")

API_ID = "local"
STAGE = "$default"
MAX_BODY_BYTES = 10 * 1024 * 1024

# Claims of a verified token, or Unauthorized.
Authorizer = Callable[[str | None], dict[str, Any]]

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    target: str  # path and query exactly as received
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    @property
    def raw_path(self) -> str:
        return self.target.partition("?")[0] or "/"

    @property
    def raw_query(self) -> str:
        return self.target.partition("?")[2]


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def json_response(status: int, document: Any, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    return HttpResponse(
        status, [("Content-Type", "application/json"), *headers], json.dumps(document).encode()
    )


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    # HTTP API joins repeated headers and query parameters with commas.
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _is_text(content_type: str) -> bool:
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    return media_type == _FORM or any(marker in media_type for marker in _TEXT_TYPES)


def _body_fields(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {"isBase64Encoded": False}
    if _is_text(content_type):
        try:
            return {"body": body.decode("utf-8"), "isBase64Encoded": False}
        except UnicodeDecodeError:
            pass
    return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}


def _claim_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    return json.dumps(value)


def authorizer_context(claims: Mapping[str, Any]) -> dict[str, Any]:
    """`requestContext.authorizer` as the JWT authorizer fills it: claims as strings, scopes split."""
    scope = claims.get("scope") or claims.get("scp")
    scopes = scope.split() if isinstance(scope, str) else None
    return {"jwt": {"claims": {name: _claim_text(value) for name, value in claims.items()}, "scopes": scopes}}


def build_event(
    request: IncomingRequest,
    match: RouteMatch,
    *,
    claims: Mapping[str, Any] | None = None,
    server_port: int = 3000,
) -> dict[str, Any]:
    """The payload format 2.0 event that HTTP API sends to the route's function."""
    pairs = [(name.lower(), value) for name, value in request.headers]
    cookies = [c.strip() for name, value in pairs if name == "cookie" for c in value.split(";") if c.strip()]
    headers = _joined((name, value) for name, value in pairs if name != "cookie")
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-forwarded-port", str(server_port))
    now = datetime.now(UTC)
    domain = headers.get("host", f"127.0.0.1:{server_port}")
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": request.method.upper(),
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": uuid.uuid4().hex[:16] + "=",
        "routeKey": match.route_key,
        "stage": STAGE,
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = authorizer_context(claims)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": request_context,
    }
    if cookies:
        event["cookies"] = cookies
    if request.raw_query:
        event["queryStringParameters"] = _joined(parse_qsl(request.raw_query, keep_blank_values=True))
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    event.update(_body_fields(request.body, headers.get("content-type", "")))
    return event


def response_from_result(result: Any) -> HttpResponse:
    """The HTTP response HTTP API makes of a function's result (payload format 2.0 rules)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: HTTP API assumes 200 and JSON, and sends a string as it is.
        text = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], text.encode("utf-8"))
    headers = [(str(name), str(value)) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    raw_body = result.get("body") or ""
    if not isinstance(raw_body, str):
        raw_body = json.dumps(raw_body)
    encoded = bool(result.get("isBase64Encoded"))
    body = base64.b64decode(raw_body, validate=True) if encoded else raw_body.encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, body)


def bearer_token(header: str | None) -> str:
    """The token of an Authorization header; like the JWT authorizer, a `Bearer ` prefix is optional."""
    scheme, _, rest = (header or "").strip().partition(" ")
    value = rest if scheme.lower() == "bearer" else (header or "")
    if not value.strip():
        raise Unauthorized("authorization token is missing", code="token_missing")
    return value.strip()


def jwt_authorizer(verify: Callable[[str], object]) -> Authorizer:
    """An authorizer that checks the token with ``verify`` and returns its claims."""

    def authorize(header: str | None) -> dict[str, Any]:
        token = bearer_token(header)
        verify(token)
        # Verified just above: reading the claims again needs no second signature check.
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims

    return authorize


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class Gateway:
    """Turns one request into one response: local pages, route, authorizer, function, result."""

    def __init__(
        self,
        routes: RouteTable,
        invoke: Callable[[str, Any], Any],
        authorizer: Authorizer,
        *,
        pages: Mapping[str, Callable[[], HttpResponse]] | None = None,
        cors_origins: Iterable[str] = (),
    ) -> None:
        self.routes = routes
        self.invoke = invoke
        self.authorizer = authorizer
        self.pages = dict(pages or {})
        self.cors_origins = frozenset(cors_origins)

    def handle(self, request: IncomingRequest, *, server_port: int = 3000) -> HttpResponse:
        if request.method in {"GET", "HEAD"} and request.raw_path in self.pages:
            return self.pages[request.raw_path]()
        match = self.routes.match(request.method, request.raw_path)
        if match is None:
            if request.method == "OPTIONS" and self.routes.matches_path(request.raw_path):
                return self._preflight(request)
            return json_response(404, {"message": "Not Found"})
        claims = None if match.route.public else self._authorize(request)
        if isinstance(claims, HttpResponse):
            return claims
        return self._integrate(match, build_event(request, match, claims=claims, server_port=server_port))

    def _integrate(self, match: RouteMatch, event: dict[str, Any]) -> HttpResponse:
        """The route's function on the event, its result or failure answered as HTTP API does."""
        try:
            result = self.invoke(match.route.function_id, event)
        except TooManyRequests as exc:
            log.warning("%s throttled: %s", match.route_key, exc)
            return json_response(429, {"message": "Too Many Requests"})
        except FunctionError as exc:
            log.error("%s failed on %s: %s", match.route.function_id, match.route_key, exc)
            return json_response(500, {"message": "Internal Server Error"})
        except Exception:
            # An invoker that runs handlers in this process (handler tests) raises their errors.
            log.exception("%s failed on %s", match.route.function_id, match.route_key)
            return json_response(500, {"message": "Internal Server Error"})
        try:
            return response_from_result(result)
        except (KeyError, TypeError, ValueError):
            # A result HTTP API cannot read (a bad statusCode, a body that is not base64...).
            log.exception("%s answered %s with a malformed result", match.route.function_id, match.route_key)
            return json_response(500, {"message": "Internal Server Error"})

    def _authorize(self, request: IncomingRequest) -> dict[str, Any] | HttpResponse:
        """The token's claims, or the answer API Gateway gives when its authorizer refuses."""
        try:
            return self.authorizer(_header(request, "authorization"))
        except Unauthorized as exc:
            log.info("authorizer refused %s %s: %s", request.method, request.raw_path, exc.code)
            return json_response(401, {"message": "Unauthorized"}, [("WWW-Authenticate", "Bearer")])
        except Exception:
            log.exception("authorizer failed on %s %s", request.method, request.raw_path)
            return json_response(500, {"message": "Internal Server Error"})

    def _preflight(self, request: IncomingRequest) -> HttpResponse:
        # HTTP API answers preflights itself when the API has a CORS configuration.
        origin = _header(request, "origin")
        if origin is None or origin not in self.cors_origins:
            return HttpResponse(204)
        requested_headers = _header(request, "access-control-request-headers") or "authorization,content-type"
        return HttpResponse(
            204,
            [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Methods", _header(request, "access-control-request-method") or "GET"),
                ("Access-Control-Allow-Headers", requested_headers),
                ("Access-Control-Max-Age", "600"),
                ("Vary", "Origin"),
            ],
        )


def _header(request: IncomingRequest, name: str) -> str | None:
    return next((value for key, value in request.headers if key.lower() == name), None)


class _BodyTooLarge(Exception):
    pass


class _BadFraming(Exception):
    """The body's length cannot be read (a bad Content-Length or chunk size)."""


class _RequestHandler(BaseHTTPRequestHandler):
    server: _ApiHttpServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: without this, Nagle's algorithm and the client's
    # delayed ACK hold every keep-alive response for about 40 ms.
    disable_nagle_algorithm = True

    def _dispatch(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True
            response = json_response(413, {"message": "Request Entity Too Large"})
        except _BadFraming:
            self.close_connection = True
            response = json_response(400, {"message": "Bad Request"})
        else:
            request = IncomingRequest(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                protocol=self.request_version,
            )
            response = self.server.gateway.handle(request, server_port=self.server.server_port)
        self._write(response)
        log.info("%s %s -> %d (%.0f ms)", self.command, self.path.partition("?")[0], response.status,
                 elapsed_ms(started))  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        # http.server looks for `do_<METHOD>` and answers 501 with an HTML page when it is missing;
        # API Gateway takes any method and answers what it has no route for with its JSON 404.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Requests http.server cannot parse (a bad request line, headers too long): JSON, like the rest.
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self._write(json_response(code, {"message": phrase}))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.strip().isdigit():
            raise _BadFraming
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            raise _BodyTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks = bytearray()
        while True:
            try:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise _BadFraming from None
            if size == 0:
                while self.rfile.readline() not in {b"\r\n", b"\n", b""}:
                    pass  # trailers
                return bytes(chunks)
            if len(chunks) + size > MAX_BODY_BYTES:
                raise _BodyTooLarge
            chunks += self.rfile.read(size)
            self.rfile.readline()

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class _ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # Connections wait here while every thread is busy accepting: many clients at once must be
    # queued, not reset (the kernel caps this at net.core.somaxconn).
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        self.gateway = gateway
        super().__init__(address, _RequestHandler)


class LocalApiServer:
    """The gateway on a loopback port, served by a thread per connection."""

    def __init__(self, gateway: Gateway, *, host: str = "127.0.0.1", port: int = 3000) -> None:
        self._gateway = gateway
        self._address = (host, port)
        self._server: _ApiHttpServer | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> None:
        """Take the port now (requests wait in the backlog until `start`); an `OSError` with errno
        EADDRINUSE means the port is taken."""
        if self._server is None:
            self._server = _ApiHttpServer(self._address, self._gateway)

    def start(self) -> None:
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="local-api", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the API server is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            # Only a serving loop acknowledges a shutdown: a bound but idle server would wait forever.
            self._server.shutdown()
            self._thread.join(timeout=5)
        if self._server is not None:
            self._server.server_close()
        self._server = None
        self._thread = None

"""An MCP server behind OAuth on loopback: the SDK's tools server at `/mcp`, and its authorization
server on the same origin, following the MCP authorization specification.

- `/mcp` answers 401 with `WWW-Authenticate: Bearer resource_metadata=...` to a request without
  a valid access token (unknown, expired, or issued for another resource).
- `/.well-known/oauth-protected-resource/mcp` (RFC 9728) names the authorization server
  (`authorization_server`, the origin unless a test points it elsewhere).
- `/.well-known/oauth-authorization-server` (RFC 8414), `/register` (RFC 7591), `/authorize`
  (consent given at once, or refused when `deny` is set), `/token` (authorization code with PKCE
  S256 and the resource indicator; refresh tokens rotate on every use).

With `client_id_metadata`, the authorization server offers no registration and takes a URL as
client_id instead (Client ID Metadata Documents): it reads the document with
`fetch_client_metadata(url)`, which a test points at the product's function.

Switches for the failure cases: `deny`, `token_mode` ("ok", "down": 503, "garbage": a 200 that
is not JSON), `expire_access_tokens()`, `revoke_all()`. Every request to /authorize is kept in
`authorizations`; `registrations`, `refreshes` count what they say.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.mcp_servers import LoopbackServer, tools_app
from tests.fakes.request_log import App, Receive, Scope, Send

SCOPE = "mcp:tools"


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    resource: str
    scope: str


@dataclass
class _Token:
    client_id: str
    resource: str
    expires_at: float


class OAuthMcpServer:
    def __init__(
        self,
        *,
        access_ttl_s: int = 3600,
        iss_parameter: bool = False,
        fetch_client_metadata: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.access_ttl_s = access_ttl_s
        self.iss_parameter = iss_parameter
        self.fetch_client_metadata = fetch_client_metadata
        self.deny = False
        self.token_mode = "ok"
        self.authorization_server: str | None = None
        self.authorizations: list[dict[str, str]] = []
        self.registrations = 0
        self.refreshes = 0
        self.issued: list[str] = []  # every access and refresh token, for the tests that look for leaks
        self._clients: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self.server = LoopbackServer(self._app(), name="oauth-mcp")

    @property
    def origin(self) -> str:
        return self.server.base_url

    @property
    def url(self) -> str:
        return self.server.url

    def register_client(self, client_id: str, client_secret: str | None, redirect_uri: str) -> None:
        """A client the operator registered beforehand (mcp-config.yaml's `auth.oauth`)."""
        method = "none" if client_secret is None else "client_secret_post"
        self._clients[client_id] = {
            "client_secret": client_secret,
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": method,
        }

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access.clear()

    def revoke_all(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    def __enter__(self) -> OAuthMcpServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    # ------------------------------------------------------------------ the app

    def _app(self) -> App:
        tools = tools_app(stateless=True)
        auth = Starlette(
            routes=[
                Route("/.well-known/oauth-protected-resource/mcp", self._resource_metadata),
                Route("/.well-known/oauth-authorization-server", self._metadata),
                Route("/register", self._register, methods=["POST"]),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
            ]
        )

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and not scope["path"].startswith("/mcp"):
                await auth(scope, receive, send)
                return
            if scope["type"] == "http" and not self._valid(_bearer(scope)):
                challenge = (
                    f'Bearer error="invalid_token", resource_metadata="{self.origin}'
                    f'/.well-known/oauth-protected-resource/mcp", scope="{SCOPE}"'
                )
                answer = PlainTextResponse(
                    "unauthorized", status_code=401, headers={"WWW-Authenticate": challenge}
                )
                await answer(scope, receive, send)
                return
            await tools(scope, receive, send)  # the MCP endpoint, and the lifespan its sessions need

        return app

    def _valid(self, token: str | None) -> bool:
        with self._lock:
            found = None if token is None else self._access.get(token)
        return found is not None and found.expires_at > time.time() and found.resource == self.url

    async def _resource_metadata(self, request: Request) -> Response:
        return JSONResponse(
            {
                "resource": self.url,
                "authorization_servers": [self.authorization_server or self.origin],
                "scopes_supported": [SCOPE],
                "bearer_methods_supported": ["header"],
            }
        )

    async def _metadata(self, request: Request) -> Response:
        if self.fetch_client_metadata is not None:
            registration: dict[str, Any] = {"client_id_metadata_document_supported": True}
        else:
            registration = {"registration_endpoint": f"{self.origin}/register"}
        return JSONResponse(
            {
                "issuer": self.origin,
                "authorization_endpoint": f"{self.origin}/authorize",
                "token_endpoint": f"{self.origin}/token",
                **registration,
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
                "scopes_supported": [SCOPE, "offline_access"],
                "authorization_response_iss_parameter_supported": self.iss_parameter,
            }
        )

    async def _register(self, request: Request) -> Response:
        body = await request.json()
        client_id = "client-" + secrets.token_hex(8)
        method = body.get("token_endpoint_auth_method", "client_secret_basic")
        secret = None if method == "none" else secrets.token_urlsafe(24)
        self._clients[client_id] = {
            "client_secret": secret,
            "redirect_uris": body["redirect_uris"],
            "token_endpoint_auth_method": method,
        }
        self.registrations += 1
        answer = {**body, "client_id": client_id, "client_id_issued_at": int(time.time())}
        if secret is not None:
            answer |= {"client_secret": secret, "client_secret_expires_at": 0}
        return JSONResponse(answer, status_code=201)

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.authorizations.append(params)
        client_id = params.get("client_id", "")
        if client_id.startswith("https://") and self.fetch_client_metadata is not None:
            document = self.fetch_client_metadata(client_id)
            if document.get("client_id") == client_id:
                self._clients[client_id] = {
                    "client_secret": None,
                    "redirect_uris": document["redirect_uris"],
                    "token_endpoint_auth_method": "none",
                }
        client = self._clients.get(client_id)
        redirect_uri = params.get("redirect_uri", "")
        if client is None or redirect_uri not in client["redirect_uris"]:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        answer = {"state": params.get("state", "")}
        if self.iss_parameter:
            answer["iss"] = self.origin
        if self.deny:
            answer["error"] = "access_denied"
        elif params.get("code_challenge_method") != "S256" or not params.get("resource"):
            answer["error"] = "invalid_request"
        else:
            code = secrets.token_urlsafe(24)
            self._codes[code] = _Grant(
                client_id=params["client_id"],
                redirect_uri=redirect_uri,
                code_challenge=params["code_challenge"],
                resource=params["resource"],
                scope=params.get("scope", ""),
            )
            answer["code"] = code
        return RedirectResponse(f"{redirect_uri}?{urlencode(answer)}", status_code=302)

    async def _token(self, request: Request) -> Response:
        if self.token_mode == "down":
            return PlainTextResponse("unavailable", status_code=503)
        if self.token_mode == "garbage":
            return PlainTextResponse("<html>a login page</html>", status_code=200)
        form = dict(await request.form())
        client = self._clients.get(str(form.get("client_id", "")))
        if client is None or client["client_secret"] != form.get("client_secret"):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") == "authorization_code":
            return self._code_grant(form)
        if form.get("grant_type") == "refresh_token":
            return self._refresh_grant(form)
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def _code_grant(self, form: dict[str, Any]) -> Response:
        grant = self._codes.pop(str(form.get("code", "")), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (
            grant is None
            or grant.client_id != form.get("client_id")
            or grant.redirect_uri != form.get("redirect_uri")
            or grant.code_challenge != challenge
            or grant.resource != form.get("resource")
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return self._tokens(grant.client_id, grant.resource)

    def _refresh_grant(self, form: dict[str, Any]) -> Response:
        with self._lock:
            old = self._refresh.pop(str(form.get("refresh_token", "")), None)
        if old is None or old.client_id != form.get("client_id"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.refreshes += 1
        return self._tokens(old.client_id, old.resource)

    def _tokens(self, client_id: str, resource: str) -> Response:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self._access[access] = _Token(client_id, resource, time.time() + self.access_ttl_s)
            self._refresh[refresh] = _Token(client_id, resource, time.time() + 86400)
            self.issued += [access, refresh]
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": self.access_ttl_s,
                "refresh_token": refresh,
                "scope": SCOPE,
            }
        )


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            return text[7:] if text.lower().startswith("bearer ") else None
    return None

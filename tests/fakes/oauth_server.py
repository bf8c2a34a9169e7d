"""An authorization server on loopback shaped like a Cognito user pool, for MCP clients' sign-in.

Like Cognito: the issuer has a path (the pool), OpenID discovery is served under it
(``<issuer>/.well-known/openid-configuration``) and nowhere else, access tokens are RS256 with
``token_use: access``, ``client_id`` and ``scope``; with an RFC 8707 ``resource`` in the request
(Cognito's resource indicators) the token's ``aud`` is that resource, without one it has no ``aud``.
Clients are registered beforehand (`register`): there is no dynamic registration. Consent is
given at once: ``/oauth2/authorize`` redirects to the client's ``redirect_uri`` with a code.
Every authorization request's parameters are kept in `authorizations`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.fakes.jwks_server import SigningKey

POOL = "us-east-1_AuraLinkTest"
TOKEN_TTL_S = 300


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    resource: str | None
    sub: str


class CognitoLikeServer:
    """Signs users in for registered public clients; `sub` is the user every sign-in is for."""

    def __init__(self, *, sub: str = "mcp-user") -> None:
        self.sub = sub
        self.key = SigningKey.rsa("pool-key-1")
        self.authorizations: list[dict[str, str]] = []
        self._clients: dict[str, set[str]] = {}
        self._codes: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path == f"/{POOL}/.well-known/openid-configuration":
                    self._json(200, server.discovery())
                elif path == f"/{POOL}/.well-known/jwks.json":
                    self._json(200, {"keys": [server.key.public_jwk()]})
                elif path == "/oauth2/authorize":
                    self._authorize(dict(parse_qsl(query)))
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                if self.path != "/oauth2/token":
                    self._json(404, {"error": "not_found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                status, body = server.exchange(form)
                self._json(status, body)

            def _authorize(self, params: dict[str, str]) -> None:
                server.authorizations.append(params)
                location = server.authorize(params)
                if location is None:
                    self._json(400, {"error": "invalid_request"})
                    return
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    @property
    def issuer(self) -> str:
        return f"{self.origin}/{POOL}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    def register(self, client_id: str, redirect_uris: list[str]) -> None:
        """An app client, as an operator creates it in the console: public, with its callback URLs."""
        self._clients[client_id] = set(redirect_uris)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.origin}/oauth2/authorize",
            "token_endpoint": f"{self.origin}/oauth2/token",
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def authorize(self, params: dict[str, str]) -> str | None:
        """Where the user's browser goes once they consent, or None for a request refused."""
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        if (
            redirect_uri not in self._clients.get(client_id, set())
            or params.get("code_challenge_method") != "S256"
        ):
            return None
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=params["code_challenge"],
                scope=params.get("scope", "openid"),
                resource=params.get("resource"),
                sub=self.sub,
            )
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return f"{redirect_uri}{separator}{urlencode({'code': code, 'state': params.get('state', '')})}"

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or form.get("client_id") != grant.client_id
            or form.get("redirect_uri") != grant.redirect_uri
            or challenge != grant.code_challenge
        ):
            return 400, {"error": "invalid_grant"}
        return 200, {
            "access_token": self.access_token(grant.client_id, grant.scope, resource=grant.resource),
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_S,
        }

    def access_token(self, client_id: str, scope: str, *, resource: str | None = None) -> str:
        """An access token of this pool for ``client_id``, as Cognito issues them."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": self.sub,
            "iss": self.issuer,
            "client_id": client_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": now,
            "iat": now,
            "exp": now + TOKEN_TTL_S,
            "jti": secrets.token_hex(8),
            "username": self.sub,
        }
        if resource is not None:
            claims["aud"] = resource
        return self.key.sign(claims)

    def __enter__(self) -> CognitoLikeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

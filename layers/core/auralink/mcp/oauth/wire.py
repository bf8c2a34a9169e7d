"""What the gateway says to an MCP server's authorization server: discovery, registration, tokens.

The SDK's `OAuthClientProvider` runs the whole flow inside one process, waiting for the user's
redirect in a handler of its own. Here the flow spans invocations of different functions
(connect, the callback, every later call), so its state lives in Postgres and this module uses
the SDK's pieces instead: the order of discovery URLs (RFC 9728, RFC 8414, OpenID Connect), the
metadata, registration and token models, the issuer and resource checks.

Every URL that discovery yields is checked by the SSRF guard before it is called and again
at connect time (`guarded_transport`), redirects are never followed, and no answer is read past
`MAX_ANSWER_BYTES`. Tokens and secrets never appear in an error message.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import anyio
import httpx2
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    get_client_metadata_scopes,
    issuers_match,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, OAuthToken, ProtectedResourceMetadata
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url
from pydantic import ValidationError

from auralink import ssrf
from auralink.mcp.oauth import errors
from auralink.settings import get_settings
from auralink.ssrf.transport import guarded_transport, refusal_of

MAX_ANSWER_BYTES = 64 * 1024
CONNECT_TIMEOUT_S = 5.0
# Token endpoint client authentication, most preferred first (RFC 8414's default is basic).
_AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")
_GRANTS = ["authorization_code", "refresh_token"]


@dataclass(frozen=True)
class Challenge:
    """What a server's 401 said in `WWW-Authenticate` (RFC 9728 section 5.1)."""

    resource_metadata: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class AuthServer:
    """An MCP server's authorization server, as discovery found it, and what to ask it for."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None
    auth_methods: tuple[str, ...]
    # The resource indicator (RFC 8707) and the scopes to request for this MCP server.
    resource: str
    scope: str | None
    iss_parameter: bool
    # Takes a URL as client_id, whose document describes the client (Client ID Metadata Documents).
    client_id_metadata: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "auth_methods": list(self.auth_methods)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthServer:
        return cls(**{**data, "auth_methods": tuple(data["auth_methods"])})


@dataclass(frozen=True)
class Client:
    """The gateway's client at an authorization server: registered by the operator or dynamically."""

    client_id: str
    client_secret: str | None
    auth_method: str


def auth_method_for(auth: AuthServer, *, has_secret: bool) -> str:
    """How an operator's client authenticates at the token endpoint."""
    if not has_secret:
        return "none"
    return next((m for m in _AUTH_METHODS[:2] if m in auth.auth_methods), "client_secret_basic")


def discover(server_url: str, challenge: Challenge, *, deadline_s: float) -> AuthServer:
    """The authorization server of the MCP server at ``server_url``, and what to ask it for."""
    return _run(lambda http: _discover(http, server_url, challenge), deadline_s, "discovery")


def register(
    auth: AuthServer, *, redirect_uri: str, client_name: str, deadline_s: float
) -> tuple[Client, datetime | None]:
    """A client registered dynamically (RFC 7591) for ``redirect_uri``, and when its secret expires."""
    if auth.registration_endpoint is None:
        raise errors.registration_failed(
            "The authorization server offers no dynamic client registration, and no client is "
            "configured for this server in mcp-config.yaml"
        )
    endpoint = auth.registration_endpoint
    method = next((m for m in _AUTH_METHODS if m in auth.auth_methods), None)
    if method is None:
        raise errors.registration_failed("The authorization server supports no client authentication we use")
    metadata = {
        "redirect_uris": [redirect_uri],
        "token_endpoint_auth_method": method,
        "grant_types": _GRANTS,
        "response_types": ["code"],
        "client_name": client_name,
        **({"scope": auth.scope} if auth.scope else {}),
    }

    async def work(http: httpx2.AsyncClient) -> tuple[Client, datetime | None]:
        status, body = await _exchange(http, "POST", endpoint, json=metadata)
        if status not in (200, 201):
            raise errors.registration_failed(
                f"The authorization server refused the registration (HTTP {status})"
            )
        data = _json_object(body, errors.registration_failed)
        data.pop("issuer", None)  # the SDK's own field, never taken from the wire
        try:
            info = OAuthClientInformationFull.model_validate(data)
        except ValidationError:
            raise errors.registration_failed("The registration answer is not a client registration") from None
        if not info.client_id:
            raise errors.registration_failed("The registration answer has no client_id")
        chosen = info.token_endpoint_auth_method or method
        if chosen != "none" and not info.client_secret:
            raise errors.registration_failed("The registration answer has no client_secret")
        expires = info.client_secret_expires_at
        expires_at = datetime.fromtimestamp(expires, UTC) if expires else None  # 0: never (RFC 7591)
        return Client(info.client_id, info.client_secret, chosen), expires_at

    return _run(work, deadline_s, "client registration")


def exchange_code(
    auth: AuthServer, client: Client, *, code: str, code_verifier: str, redirect_uri: str, deadline_s: float
) -> OAuthToken:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
        "resource": auth.resource,
    }
    return _run(lambda http: _token(http, auth, client, form), deadline_s, "the token request")


def refresh(auth: AuthServer, client: Client, *, refresh_token: str, deadline_s: float) -> OAuthToken:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "resource": auth.resource}
    return _run(lambda http: _token(http, auth, client, form), deadline_s, "the token refresh")


async def _discover(http: httpx2.AsyncClient, server_url: str, challenge: Challenge) -> AuthServer:
    resource = resource_url_from_server_url(server_url)
    prm = await _protected_resource(http, server_url, challenge)
    if prm is not None:
        if not check_resource_allowed(resource, str(prm.resource)):
            raise errors.discovery_failed("The protected resource metadata names another resource")
        resource = str(prm.resource)
        issuer = str(prm.authorization_servers[0])
    else:
        # Servers of the 2025-03-26 revision: the authorization server is the server's own origin.
        issuer = None
    metadata = await _authorization_server(http, issuer, server_url)
    if issuer is not None and not issuers_match(str(metadata.issuer), issuer):
        raise errors.discovery_failed("The authorization server's metadata names another issuer")
    if "S256" not in (metadata.code_challenge_methods_supported or []):
        # The MCP specification: without S256 listed, PKCE cannot be relied on; do not proceed.
        raise errors.discovery_failed("The authorization server does not offer PKCE with S256")
    if "code" not in metadata.response_types_supported:
        raise errors.discovery_failed("The authorization server does not offer the authorization code flow")
    for url in (metadata.authorization_endpoint, metadata.token_endpoint, metadata.registration_endpoint):
        if url is not None:
            _check(str(url))
    scope = get_client_metadata_scopes(challenge.scope, prm, metadata, _GRANTS)
    return AuthServer(
        issuer=str(metadata.issuer),
        authorization_endpoint=str(metadata.authorization_endpoint),
        token_endpoint=str(metadata.token_endpoint),
        registration_endpoint=None
        if metadata.registration_endpoint is None
        else str(metadata.registration_endpoint),
        auth_methods=tuple(metadata.token_endpoint_auth_methods_supported or ["client_secret_basic"]),
        resource=resource,
        scope=scope,
        iss_parameter=bool(metadata.authorization_response_iss_parameter_supported),
        client_id_metadata=bool(metadata.client_id_metadata_document_supported),
    )


async def _protected_resource(
    http: httpx2.AsyncClient, server_url: str, challenge: Challenge
) -> ProtectedResourceMetadata | None:
    for url in build_protected_resource_metadata_discovery_urls(challenge.resource_metadata, server_url):
        status, body = await _exchange(http, "GET", url)
        if status != 200:
            continue
        try:
            return ProtectedResourceMetadata.model_validate_json(body)
        except ValidationError:
            continue
    return None


async def _authorization_server(
    http: httpx2.AsyncClient, issuer: str | None, server_url: str
) -> OAuthMetadata:
    for url in build_oauth_authorization_server_metadata_discovery_urls(issuer, server_url):
        status, body = await _exchange(http, "GET", url)
        if 300 <= status < 500:
            continue  # not served there (redirects are not followed): the next candidate
        if status != 200:
            raise errors.discovery_failed(f"The authorization server's metadata answered HTTP {status}")
        try:
            return OAuthMetadata.model_validate_json(body)
        except ValidationError:
            raise errors.discovery_failed("The authorization server's metadata is not valid") from None
    raise errors.discovery_failed(
        "The MCP server asks for OAuth, but no authorization server metadata was found"
    )


async def _token(
    http: httpx2.AsyncClient, auth: AuthServer, client: Client, form: dict[str, str]
) -> OAuthToken:
    headers = {"Accept": "application/json"}
    form = {**form, "client_id": client.client_id}
    if client.auth_method == "client_secret_basic" and client.client_secret:
        # RFC 6749 section 2.3.1: each part form-urlencoded before the Base64.
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        del form["client_id"]
    elif client.auth_method == "client_secret_post" and client.client_secret:
        form["client_secret"] = client.client_secret
    status, body = await _exchange(http, "POST", auth.token_endpoint, data=form, headers=headers)
    if status in {400, 401}:
        error = _json_object(body, errors.token_response_invalid).get("error")
        if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise errors.grant_refused(str(error))
        raise errors.token_response_invalid(f"The token endpoint refused the request (HTTP {status})")
    if status != 200:
        raise errors.token_endpoint_failed(f"The token endpoint answered HTTP {status}")
    data = _json_object(body, errors.token_response_invalid)
    try:
        token = OAuthToken.model_validate(data)
    except ValidationError:
        raise errors.token_response_invalid("The token endpoint's answer is not a bearer token") from None
    if not token.access_token:
        raise errors.token_response_invalid("The token endpoint's answer has no access token")
    return token


def _json_object(body: bytes, failure: Callable[[str], Exception]) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise failure("The authorization server's answer is not JSON") from None
    if not isinstance(data, dict):
        raise failure("The authorization server's answer is not a JSON object")
    return data


def _check(url: str) -> str:
    try:
        return ssrf.check_endpoint(url, allow_loopback=get_settings().allow_loopback_endpoints).url
    except ssrf.EndpointNotAllowed as exc:
        raise errors.endpoint_not_allowed(exc) from None


async def _exchange(http: httpx2.AsyncClient, method: str, url: str, **kwargs: Any) -> tuple[int, bytes]:
    """The status and body (at most MAX_ANSWER_BYTES) of one request to a checked URL."""
    request = http.build_request(method, _check(url), **kwargs)
    try:
        response = await http.send(request, stream=True)
    except httpx2.RequestError as exc:
        refusal = refusal_of(exc)
        if refusal is not None:
            raise errors.endpoint_not_allowed(refusal) from None
        if isinstance(exc, httpx2.TimeoutException):
            raise errors.timeout() from None
        raise errors.unreachable() from None
    try:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                raise errors.token_response_invalid(
                    f"The authorization server's answer is larger than {MAX_ANSWER_BYTES} bytes"
                )
    except httpx2.RequestError:
        raise errors.unreachable() from None
    finally:
        await response.aclose()
    return response.status_code, bytes(body)


def _run[T](work: Callable[[httpx2.AsyncClient], Awaitable[T]], deadline_s: float, what: str) -> T:
    if deadline_s <= 0:
        raise errors.timeout()
    done: list[T] = []

    async def main() -> None:
        transport = guarded_transport(allow_loopback=get_settings().allow_loopback_endpoints)
        timeout = httpx2.Timeout(deadline_s, connect=min(CONNECT_TIMEOUT_S, deadline_s))
        with anyio.fail_after(deadline_s):
            async with httpx2.AsyncClient(
                transport=transport, timeout=timeout, follow_redirects=False
            ) as http:
                done.append(await work(http))

    try:
        anyio.run(main)
    except TimeoutError:
        raise errors.timeout(what) from None
    return done[0]

"""How to reach the server of a connection: URL, auth headers, protocol, limits.

Credentials are decrypted here, only to build the headers of the outbound call; they never
leave this module in any other form. The caller's own token is never forwarded: hosted servers
get a short-lived service token for the caller, other servers the connection's credentials (or
the deployment's service-wide key for that server).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from auralink import config, crypto, rate_windows, ssrf
from auralink.config import Limits
from auralink.errors import ConfigurationError
from auralink.mcp import service_token
from auralink.mcp.client import McpTarget, Protocol
from auralink.mcp.connections import CUSTOM
from auralink.mcp.gateway import Upstream
from auralink.mcp.models import Credentials
from auralink.mcp.registry import server_config
from auralink.settings import get_settings

CREDENTIALS_PURPOSE = "mcp-connection-credentials"
LEGACY_PROTOCOL: Protocol = "2025-11-25"


def encrypt_credentials(credentials: Credentials, *, user_id: str, connection_id: UUID) -> str | None:
    if credentials.is_empty:
        return None
    return crypto.encrypt_credential(
        credentials.model_dump_json(exclude_none=True),
        owner_id=user_id,
        record_id=str(connection_id),
        purpose=CREDENTIALS_PURPOSE,
    )


def _decrypt(token: str | None, *, user_id: str, connection_id: UUID) -> Credentials:
    if token is None:
        return Credentials()
    plain = crypto.decrypt_credential_text(
        token, owner_id=user_id, record_id=str(connection_id), purpose=CREDENTIALS_PURPOSE
    )
    return Credentials.model_validate_json(plain)


def check_custom_endpoint(url: str, *, resolve: bool = True) -> str:
    """A user's own endpoint, refused unless it is a public https address (or loopback, where
    ALLOW_LOOPBACK_ENDPOINTS allows it). ``resolve=False``: its name by the rules of names alone."""
    resolver = ssrf.resolve if resolve else None
    return ssrf.check_endpoint(
        url, allow_loopback=get_settings().allow_loopback_endpoints, resolver=resolver
    ).url


def _headers(server_name: str, credentials: Credentials, *, user_id: str) -> dict[str, str]:
    if server_name != CUSTOM and server_config(server_name).hosted:
        return {"Authorization": f"Bearer {service_token.mint(user_id)}"}
    headers = dict(credentials.headers)
    if credentials.token is not None:
        headers["Authorization"] = f"Bearer {credentials.token}"
    if server_name == CUSTOM:
        return headers
    auth = server_config(server_name).auth
    key = credentials.api_key
    if key is None and credentials.is_empty:
        default = config.api_key(server_name)
        key = None if default is None else default.get_secret_value()
    if key is not None and auth.takes_key:
        headers.update(auth.key_headers(key))
    return headers


def endpoint_for(server_name: str, endpoint: str | None, *, api_base_url: str | None) -> str:
    if server_name == CUSTOM:
        if endpoint is None:
            raise ConfigurationError("a custom connection has no endpoint")
        return endpoint
    server = server_config(server_name)
    if server.hosted:
        base = get_settings().public_api_url or api_base_url
        if not base:
            raise ConfigurationError(f"servers.{server_name} is hosted but the API's URL is unknown")
        return base.rstrip("/") + (server.path or "")
    if endpoint is not None:
        return endpoint
    if server.endpoint is None:
        raise ConfigurationError(f"servers.{server_name}.endpoint is not configured")
    return str(server.endpoint)


def upstream_for(
    server_name: str,
    *,
    user_id: str,
    credentials: Credentials,
    endpoint: str | None,
    api_base_url: str | None,
    discover_result: dict[str, Any] | None = None,
) -> Upstream:
    url = endpoint_for(server_name, endpoint, api_base_url=api_base_url)
    if server_name == CUSTOM:
        # Checked again at every call, but not resolved: its name may resolve elsewhere since the
        # connection was made, and the guarded transport checks the addresses of every connection
        # a call opens (a kept session's connection was checked when it opened). A DNS query per
        # call would only repeat that check.
        check_custom_endpoint(url, resolve=False)
        protocol: Protocol = "auto"
        limits: Limits = config.get_mcp_config().defaults
        upstream_name = _custom_label(url)
    else:
        protocol = server_config(server_name).protocol
        limits = config.limits_for(server_name)
        upstream_name = server_name
    target = McpTarget(
        url=url,
        headers=_headers(server_name, credentials, user_id=user_id),
        protocol=protocol,
        discover_result=discover_result,
        ssrf_guard=server_name == CUSTOM,
        caps=limits.response_caps,
        reusable=server_name == CUSTOM or not server_config(server_name).hosted,
    )
    return Upstream(
        server_name=upstream_name,
        target=target,
        limits=limits,
        owner=rate_windows.subject_digest(user_id) if _own_server(server_name, credentials) else None,
    )


def _custom_label(url: str) -> str:
    # Each custom server is its own server in the log and statistics.
    return f"{CUSTOM}:{urlsplit(url).hostname}:{urlsplit(url).port or ''}".rstrip(":")


def label_of_row(row: dict[str, Any]) -> str:
    """The server of a stored connection as the log and statistics name it."""
    return _custom_label(row["endpoint"] or "") if row["server_name"] is None else str(row["server_name"])


def _own_server(server_name: str, credentials: Credentials) -> bool:
    """Whether the user reaches this server as their own: a custom endpoint, or a registry server
    with their own credentials. Its breaker and server limit are then theirs alone, so that a
    user whose URL, path or token is wrong never opens the circuit of anyone else; a registry
    server reached with the service's key (or none) is shared."""
    if server_name == CUSTOM:
        return True
    return not server_config(server_name).hosted and not credentials.is_empty


def upstream_for_row(row: dict[str, Any], *, api_base_url: str | None) -> Upstream:
    """The upstream of a stored connection, at call time."""
    connection_id = UUID(str(row["id"]))
    credentials = _decrypt(row["credentials"], user_id=row["user_id"], connection_id=connection_id)
    oauth = None
    if row.get("oauth") is not None:
        # OAuth's modules, for the connections behind it alone (see calls._tokens).
        from auralink.mcp.oauth import session as oauth_session  # noqa: PLC0415

        oauth = oauth_session.of_row(row)
    if oauth is not None and oauth.access_token is not None:
        # A connection behind OAuth: its access token, kept fresh by `auralink.mcp.oauth.tokens`.
        credentials = Credentials(token=oauth.access_token)
    upstream = upstream_for(
        row["server_name"] or CUSTOM,
        user_id=row["user_id"],
        credentials=credentials,
        endpoint=row["endpoint"],
        api_base_url=api_base_url,
        discover_result=row["discover_result"],
    )
    if upstream.target.protocol == "auto" and row["protocol_version"] == LEGACY_PROTOCOL:
        # The connection showed a server on the handshake: skip the discovery probe it refuses.
        return replace(upstream, target=replace(upstream.target, protocol=LEGACY_PROTOCOL))
    return upstream

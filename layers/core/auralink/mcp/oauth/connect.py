"""Connecting a server behind OAuth: the connection is stored waiting for its user to sign in.

`auralink.mcp.connect` hands over here when a registry server is declared behind OAuth, or when
a server's 401 asks for a sign-in; this module finds the authorization server, gets a client
there, stores the connection (`authorization_required`) and answers the address to open.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

import httpx2
from mcp.client.auth.utils import extract_resource_metadata_from_www_auth, extract_scope_from_www_auth

from auralink import config
from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.db import tenant_transaction
from auralink.mcp import gateway, repository
from auralink.mcp.connections import CUSTOM, check_room
from auralink.mcp.errors import AUTH_FAILED, McpUpstreamError
from auralink.mcp.models import ConnectionAuthorization, ConnectRequest
from auralink.mcp.oauth import flow, tokens, urls, wire
from auralink.mcp.oauth.session import OAuthSession, seal
from auralink.mcp.oauth.wire import Challenge
from auralink.mcp.oplog import OperationRecord
from auralink.mcp.registry import server_config


@dataclass(frozen=True)
class Pending:
    """A connection about to be made, as `auralink.mcp.connect` checked it."""

    identity: Identity
    request: ConnectRequest
    server_id: UUID | None
    name: str
    endpoint: str | None
    connection_id: UUID
    url: str
    # The server as the log and statistics name it (the upstream's name).
    server_label: str


def signs_in_first(request: ConnectRequest) -> bool:
    """A registry server declared behind OAuth, with no key given or configured: no call is worth
    making before the user has signed in."""
    if request.server_type == CUSTOM or not request.credentials.is_empty:
        return False
    server = server_config(request.server_type)
    return server.auth.kind == "oauth" and config.api_key(request.server_type) is None


def challenge_of(exc: McpUpstreamError, request: ConnectRequest) -> Challenge | None:
    """The sign-in a server's 401 asks for, when the user brought no credentials of their own."""
    if (
        exc.code != AUTH_FAILED
        or (exc.details or {}).get("http_status") != 401
        or not request.credentials.is_empty
    ):
        return None
    if request.server_type != CUSTOM and server_config(request.server_type).auth.kind != "oauth":
        return None
    header = httpx2.Response(401, headers={"WWW-Authenticate": exc.www_authenticate or ""})
    return Challenge(extract_resource_metadata_from_www_auth(header), extract_scope_from_www_auth(header))


def start(
    pending: Pending,
    challenge: Challenge | None = None,
    *,
    api_base_url: str | None,
    remaining_ms: int,
    clock: Clock,
) -> ConnectionAuthorization:
    """Find the server's authorization server (from a 401's ``challenge``, else the well-known
    addresses), get a client there, and store the connection waiting for its user to sign in;
    the address to open comes back."""
    challenge = challenge or Challenge()
    user_id, server_type = pending.identity.sub, pending.request.server_type
    redirect = urls.redirect_uri(api_base_url)
    deadline_at = clock.monotonic() + remaining_ms / 1000 - gateway.SAFETY_MARGIN_S

    def prepare() -> OAuthSession:
        auth = wire.discover(pending.url, challenge, deadline_s=deadline_at - clock.monotonic())
        scope = flow.configured_scope(server_type)
        if scope is not None:
            auth = replace(auth, scope=scope)
        client = flow.client_for(
            server_type, auth, redirect=redirect, deadline_s=deadline_at - clock.monotonic(), now=clock.now()
        )
        return OAuthSession(auth, client)

    session = tokens.logged(
        OperationRecord(user_id=user_id, server_name=pending.server_label, operation="oauth_discover"),
        prepare,
        clock,
    )
    with tenant_transaction(user_id) as conn:
        repository.lock_connections_of(conn, user_id)
        check_room(conn)
        repository.insert(
            conn,
            {
                "id": pending.connection_id,
                "user_id": user_id,
                "server_id": pending.server_id,
                "name": pending.name,
                "endpoint": pending.endpoint,
                "credentials": None,
                "status": "authorization_required",
                "oauth": seal(session, user_id=user_id, connection_id=pending.connection_id),
                "tools": None,
                "now": clock.now(),
                "latency_ms": None,
                "protocol_version": None,
                "discover_result": None,
                "server_info": {},
            },
        )
        authorization = flow.authorize(
            conn,
            user_id=user_id,
            connection_id=pending.connection_id,
            session=session,
            redirect=redirect,
            now=clock.now(),
        )
    return ConnectionAuthorization(
        connection_id=pending.connection_id,
        name=pending.name,
        authorization_url=authorization.url,
        expires_at=authorization.expires_at,
    )


def authorize_connection(
    identity: Identity, connection_id: UUID, *, api_base_url: str | None, clock: Clock = SYSTEM_CLOCK
) -> ConnectionAuthorization:
    """A fresh sign-in address for a connection behind OAuth (after a refused refresh, or to
    sign in as someone else); the connection's current tokens stay until the sign-in ends."""
    row, authorization = flow.reauthorize(identity.sub, connection_id, api_base_url=api_base_url, clock=clock)
    return ConnectionAuthorization(
        connection_id=connection_id,
        name=row["name"],
        authorization_url=authorization.url,
        expires_at=authorization.expires_at,
    )

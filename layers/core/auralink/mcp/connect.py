"""Connecting to an MCP server, and testing a connection: both talk to the server for real.

Connecting runs discovery or the handshake, then `tools/list`, before anything is stored: a
server that cannot be reached gives a 502/504 and no connection.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from auralink import config
from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.config import ServerConfig
from auralink.db import system_transaction, tenant_transaction
from auralink.errors import Conflict, DomainError, ValidationFailed
from auralink.mcp import calls, client, gateway, repository
from auralink.mcp.client import ServerInfo
from auralink.mcp.connections import CUSTOM, check_room, to_connection
from auralink.mcp.errors import McpTimeout, McpUpstreamError
from auralink.mcp.models import Connection, ConnectionAuthorization, ConnectionTest, ConnectRequest
from auralink.mcp.oauth import connect as oauth_connect
from auralink.mcp.oauth import errors as oauth_errors
from auralink.mcp.oplog import OperationRecord
from auralink.mcp.registry import server_config
from auralink.mcp.targets import (
    check_custom_endpoint,
    encrypt_credentials,
    upstream_for,
)


def _server_info(info: ServerInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": info.version,
        "capabilities": info.capabilities,
        "instructions": info.instructions,
    }


def _default_name(request: ConnectRequest, endpoint: str | None) -> str:
    if request.server_type != CUSTOM:
        return request.server_type
    host = urlsplit(endpoint or "").hostname or "server"
    return ("custom-" + re.sub(r"[^A-Za-z0-9_.-]", "-", host))[:63]


def _refused(message: str, *, code: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, details=[{"field": field, "message": message}])


def _check_credentials(request: ConnectRequest, server: ServerConfig | None) -> None:
    """Credentials that the server's auth settings cannot use are refused, naming the field."""
    credentials = request.credentials
    if server is None:
        if credentials.api_key is not None:
            raise _refused(
                "A custom server has no auth settings to say how to send api_key: "
                "give it as token (a bearer token) or in headers",
                code="api_key_not_supported",
                field="body.credentials.api_key",
            )
        return
    if server.hosted and not credentials.is_empty:
        raise _refused(
            f"The {request.server_type} server is hosted by AuraLink and takes no credentials",
            code="credentials_not_accepted",
            field="body.credentials",
        )
    if credentials.api_key is None:
        return
    if not server.auth.takes_key:
        raise _refused(
            f"The {request.server_type} server takes no API key",
            code="credentials_not_accepted",
            field="body.credentials.api_key",
        )
    carriers = {name.lower() for name in server.auth.key_headers(credentials.api_key)}
    clash = sorted(name for name in credentials.headers if name.lower() in carriers)
    if clash:
        raise _refused(
            f"api_key is sent in the {clash[0]} header: leave that header out",
            code="credentials_conflict",
            field="body.credentials.headers",
        )


def _check_server(request: ConnectRequest) -> tuple[UUID | None, str | None]:
    """The registry id and the endpoint to store (custom servers only)."""
    if request.server_type == CUSTOM:
        if request.endpoint is None:
            raise ValidationFailed("endpoint is required for a custom server", code="endpoint_required")
        _check_credentials(request, None)
        return None, check_custom_endpoint(request.endpoint)
    if request.endpoint is not None:
        raise ValidationFailed("endpoint can only be set for a custom server", code="endpoint_not_allowed")
    server = server_config(request.server_type)
    with system_transaction() as conn:
        rows = {row["name"]: row for row in repository.registry_rows(conn)}
    row = rows.get(request.server_type)
    if row is None or not row["enabled"] or not server.enabled:
        raise Conflict(f"The {request.server_type} server is not enabled here", code="mcp_server_disabled")
    _check_credentials(request, server)
    # A server behind OAuth without a key: the user signs in instead (`auralink.mcp.oauth.connect`).
    needs_key = (
        server.auth.takes_key and server.auth.required and not server.hosted and server.auth.kind != "oauth"
    )
    if needs_key and request.credentials.is_empty and config.api_key(request.server_type) is None:
        raise _refused(
            f"The {request.server_type} server needs credentials (an api_key)",
            code="credentials_required",
            field="body.credentials.api_key",
        )
    return UUID(str(row["id"])), None


def connect(
    identity: Identity,
    request: ConnectRequest,
    *,
    api_base_url: str | None,
    remaining_ms: int,
    clock: Clock = SYSTEM_CLOCK,
) -> Connection | ConnectionAuthorization:
    """The new connection; for a server behind OAuth, one waiting for its user to sign in."""
    server_id, endpoint = _check_server(request)
    name = request.name or _default_name(request, endpoint)
    with tenant_transaction(identity.sub) as conn:
        if repository.name_taken(conn, name):
            raise Conflict(f"A connection named {name!r} exists already", code="connection_name_taken")
        # Before the server is contacted; checked again, under the lock, where the row is added.
        check_room(conn)
    connection_id = uuid.uuid4()
    upstream = upstream_for(
        request.server_type,
        user_id=identity.sub,
        credentials=request.credentials,
        endpoint=endpoint,
        api_base_url=api_base_url,
    )
    pending = oauth_connect.Pending(
        identity, request, server_id, name, endpoint, connection_id, upstream.target.url, upstream.server_name
    )
    if oauth_connect.signs_in_first(request):
        return oauth_connect.start(
            pending,
            api_base_url=api_base_url,
            remaining_ms=remaining_ms,
            clock=clock,
        )
    started = clock.monotonic()
    record = OperationRecord(user_id=identity.sub, server_name=upstream.server_name, operation="connect")
    try:
        outcome = gateway.execute(
            upstream,
            record,
            lambda target, deadline_s: client.list_tools(target, deadline_s=deadline_s),
            remaining_ms=remaining_ms,
            clock=clock,
        )
    except McpUpstreamError as exc:
        challenge = oauth_connect.challenge_of(exc, request)
        if challenge is None:
            raise
        left_ms = remaining_ms - round((clock.monotonic() - started) * 1000)
        try:
            return oauth_connect.start(
                pending, challenge, api_base_url=api_base_url, remaining_ms=left_ms, clock=clock
            )
        except DomainError as failure:
            if failure.code == oauth_errors.DISCOVERY_FAILED and challenge.resource_metadata is None:
                # A plain 401 from a server with no OAuth metadata: its credentials are what is missing.
                raise exc from None
            raise
    info, tools = outcome.value
    with tenant_transaction(identity.sub) as conn:
        repository.lock_connections_of(conn, identity.sub)
        check_room(conn)
        repository.insert(
            conn,
            {
                "id": connection_id,
                "user_id": identity.sub,
                "server_id": server_id,
                "name": name,
                "endpoint": endpoint,
                "credentials": encrypt_credentials(
                    request.credentials, user_id=identity.sub, connection_id=connection_id
                ),
                "tools": [tool.document() for tool in tools],
                "now": clock.now(),
                "latency_ms": outcome.latency_ms,
                "protocol_version": info.protocol_version,
                "discover_result": info.discover_result,
                "server_info": _server_info(info),
            },
        )
        row = repository.get(conn, connection_id)
    return to_connection(row)


def test_connection(
    identity: Identity,
    connection_id: UUID,
    *,
    api_base_url: str | None,
    remaining_ms: int,
    clock: Clock = SYSTEM_CLOCK,
) -> ConnectionTest:
    """Talk to the server now (a fresh discovery or handshake) and record what happened."""
    with tenant_transaction(identity.sub) as conn:
        row = repository.get(conn, connection_id)
    started = clock.monotonic()
    try:
        outcome = calls.execute(
            {**row, "discover_result": None},
            lambda server_name: OperationRecord(
                user_id=identity.sub, server_name=server_name, operation="test", connection_id=connection_id
            ),
            lambda target, deadline_s: client.discover(target, deadline_s=deadline_s),
            api_base_url=api_base_url,
            remaining_ms=remaining_ms,
            clock=clock,
        )
    except (McpUpstreamError, McpTimeout) as exc:
        # The server failing is the test's answer, not a failure of the request; refusals
        # (rate limit, open circuit) are raised: no test took place.
        latency_ms = round((clock.monotonic() - started) * 1000)
        with tenant_transaction(identity.sub) as conn:
            repository.record_test(
                conn, connection_id, ok=False, latency_ms=latency_ms, error_code=exc.code, now=clock.now()
            )
        return ConnectionTest(
            connection_id=connection_id,
            status="error",
            latency_ms=latency_ms,
            error_code=exc.code,
            message=exc.message,
        )
    info = outcome.value
    with tenant_transaction(identity.sub) as conn:
        repository.record_test(
            conn,
            connection_id,
            ok=True,
            latency_ms=outcome.latency_ms,
            error_code=None,
            now=clock.now(),
            protocol_version=info.protocol_version,
            discover_result=info.discover_result,
            server_info=_server_info(info),
        )
    return ConnectionTest(
        connection_id=connection_id,
        status="ok",
        latency_ms=outcome.latency_ms,
        protocol_version=info.protocol_version,
    )

"""A user's connections to MCP servers, as stored: list, read, delete.

Nothing here talks to a server (connecting and testing do, in `auralink.mcp.connect`), so the
functions that only read connections do not load the MCP SDK.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from auralink import config
from auralink.auth import Identity
from auralink.db import Connection as DbConnection
from auralink.db import tenant_statements, tenant_transaction
from auralink.errors import Conflict
from auralink.mcp import repository
from auralink.mcp.models import Connection, ConnectionList
from auralink.settings import get_settings

CUSTOM = "custom"


def _display_name(row: dict[str, Any]) -> str:
    """The registry's display name (this deployment's configuration first); a custom server's host."""
    server_type = row["server_name"]
    if server_type is None:
        return urlsplit(row["endpoint"] or "").hostname or CUSTOM
    configured = config.get_mcp_config().servers.get(server_type)
    if configured is not None:
        return configured.display_name
    return str(row["server_display_name"] or server_type)


def to_connection(row: dict[str, Any]) -> Connection:
    tools = row["tools"] or []
    return Connection(
        connection_id=row["id"],
        name=row["name"],
        status=row["status"],
        server_type=row["server_name"] or CUSTOM,
        server_name=_display_name(row),
        endpoint=row["endpoint"] or "",
        protocol_version=row["protocol_version"],
        capabilities=[str(tool["name"]) for tool in tools],
        tool_count=len(tools),
        server_capabilities=(row["server_info"] or {}).get("capabilities") or {},
        has_credentials=row["credentials"] is not None,
        last_tested_at=row["last_tested_at"],
        last_latency_ms=row["last_latency_ms"],
        last_error_code=row["last_error_code"],
        created_at=row["created_at"],
    )


def check_room(conn: DbConnection) -> None:
    """Refuse a new connection past the cap of connections per user."""
    cap = get_settings().max_connections_per_user
    if repository.count(conn) >= cap:
        raise Conflict(
            f"You have {cap} MCP connections, the most allowed: delete one to add another",
            code="connection_limit_reached",
        )


def list_connections(identity: Identity) -> ConnectionList:
    (rows,) = tenant_statements(identity.sub, [repository.list_all_statement()])
    return ConnectionList(connections=[to_connection(row) for row in rows])


def get_connection(identity: Identity, connection_id: UUID) -> Connection:
    (rows,) = tenant_statements(identity.sub, [repository.get_statement(connection_id)])
    return to_connection(repository.found(rows))


def delete_connection(identity: Identity, connection_id: UUID) -> None:
    with tenant_transaction(identity.sub) as conn:
        repository.delete(conn, connection_id)

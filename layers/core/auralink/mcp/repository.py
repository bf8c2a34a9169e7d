"""SQL of connections (`user_mcp_connections`) and the registry (`mcp_servers`).

Every function takes an open connection of a transaction the service opened: tenant
transactions for user rows (row-level security shows only the caller's), system ones for the
registry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from auralink.db import Connection, Rows, Statement
from auralink.errors import Conflict, NotFound
from auralink.quotas import repository as quota_repository

_SELECT_WITH = """
    SELECT c.id, c.user_id, c.name, c.status, c.endpoint, c.credentials, {tools}, c.tools_fetched_at,
           c.last_tested_at, c.last_latency_ms, c.last_error_code, c.protocol_version, c.discover_result,
           c.server_info, c.oauth,
           c.created_at, s.name AS server_name, s.display_name AS server_display_name
      FROM user_mcp_connections c
      LEFT JOIN mcp_servers s ON s.id = c.server_id
"""
_SELECT = _SELECT_WITH.format(tools="c.tools")
# A server may describe a hundred tools in as many kilobytes: what reads only some of them reads
# no more. Each tool by its name alone (the federated endpoint resolving a call)...
_SELECT_TOOL_NAMES = _SELECT_WITH.format(
    tools="(SELECT jsonb_agg(jsonb_build_object('name', t -> 'name')) FROM jsonb_array_elements(c.tools) t)"
    " AS tools"
)
# ...and the one tool a call names.
_SELECT_ONE_TOOL = _SELECT_WITH.format(
    tools="jsonb_path_query_first(c.tools, '$[*] ? (@.name == $name)', jsonb_build_object('name', %s::text))"
    " AS tool"
)


def registry_rows(conn: Connection) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT id, name, server_type, display_name, description, default_endpoint, auth_kind,"
        " capabilities, enabled FROM mcp_servers ORDER BY name"
    ).fetchall()


def registry_server_id(conn: Connection, name: str) -> UUID | None:
    row = conn.execute("SELECT id FROM mcp_servers WHERE name = %s", (name,)).fetchone()
    return None if row is None else UUID(str(row["id"]))


def insert(conn: Connection, values: dict[str, Any]) -> None:
    try:
        conn.execute(
            """
            INSERT INTO user_mcp_connections
                (id, user_id, server_id, name, endpoint, credentials, status, tools, tools_fetched_at,
                 last_tested_at, last_latency_ms, protocol_version, discover_result, server_info, oauth)
            VALUES (%(id)s, %(user_id)s, %(server_id)s, %(name)s, %(endpoint)s, %(credentials)s, %(status)s,
                    %(tools)s, %(fetched_at)s, %(fetched_at)s, %(latency_ms)s, %(protocol_version)s,
                    %(discover_result)s, %(server_info)s, %(oauth)s)
            """,
            {
                "status": "connected",
                "oauth": None,
                **values,
                # A connection waiting for its sign-in has not fetched its tools yet.
                "fetched_at": values["now"] if values["tools"] is not None else None,
                "tools": None if values["tools"] is None else Jsonb(values["tools"]),
                "discover_result": _json(values["discover_result"]),
                "server_info": Jsonb(values["server_info"]),
            },
        )
    except psycopg.errors.UniqueViolation:
        raise Conflict(
            f"A connection named {values['name']!r} exists already", code="connection_name_taken"
        ) from None


def lock_connections_of(conn: Connection, user_id: str) -> None:
    """Serialise the transactions that add connections for ``user_id`` (held until commit), so that
    two concurrent connects cannot both take the last place under the cap."""
    quota_repository.lock_user(conn, user_id)


def count(conn: Connection) -> int:
    """The caller's connections (row-level security shows no one else's)."""
    row = conn.execute("SELECT count(*) AS n FROM user_mcp_connections").fetchone()
    assert row is not None  # an aggregate without GROUP BY
    return int(row["n"])


def name_taken(conn: Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM user_mcp_connections WHERE name = %s", (name,)).fetchone() is not None


def list_all_statement(*, tool_names_only: bool = False) -> Statement:
    """Every connection of the caller, oldest first, for a batch; with ``tool_names_only``, each
    cached tool by its name alone (``{"name": ...}``)."""
    select = _SELECT_TOOL_NAMES if tool_names_only else _SELECT
    return Statement(select + " ORDER BY c.created_at, c.id")


def get(conn: Connection, connection_id: UUID, *, for_update: bool = False) -> dict[str, Any]:
    row = conn.execute(
        _SELECT + " WHERE c.id = %s" + (" FOR UPDATE OF c" if for_update else ""), (connection_id,)
    ).fetchone()
    return found([] if row is None else [row])


def get_statement(connection_id: UUID) -> Statement:
    """`get`'s read, for a batch (`auralink.db.tenant_statements`); `found` reads its rows."""
    return Statement(_SELECT + " WHERE c.id = %s", (connection_id,))


def get_with_tool_statement(connection_id: UUID, tool: str) -> Statement:
    """`get_statement` with, in place of ``tools``, ``tool``: the one of that name in the cached
    list (None when the list has none, or was never fetched)."""
    return Statement(_SELECT_ONE_TOOL + " WHERE c.id = %s", (tool, connection_id))


def found(rows: Rows) -> dict[str, Any]:
    """The connection of `get_statement`'s rows; 404 when there is none."""
    if not rows:
        raise NotFound("Connection not found", code="connection_not_found")
    return rows[0]


def find_by_server(conn: Connection, server_name: str) -> dict[str, Any] | None:
    return conn.execute(
        _SELECT + " WHERE s.name = %s ORDER BY c.created_at LIMIT 1", (server_name,)
    ).fetchone()


def find_by_name_statement(name: str) -> Statement:
    """The caller's connection named ``name`` (none or one row), for a batch."""
    return Statement(_SELECT + " WHERE c.name = %s", (name,))


def delete(conn: Connection, connection_id: UUID) -> None:
    if conn.execute("DELETE FROM user_mcp_connections WHERE id = %s", (connection_id,)).rowcount == 0:
        raise NotFound("Connection not found", code="connection_not_found")


def record_test(
    conn: Connection,
    connection_id: UUID,
    *,
    ok: bool,
    latency_ms: int,
    error_code: str | None,
    now: datetime,
    protocol_version: str | None = None,
    discover_result: dict[str, Any] | None = None,
    server_info: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        """
        UPDATE user_mcp_connections
           SET status = %(status)s, last_tested_at = %(now)s, last_latency_ms = %(latency_ms)s,
               last_error_code = %(error_code)s,
               protocol_version = coalesce(%(protocol_version)s, protocol_version),
               discover_result = coalesce(%(discover_result)s, discover_result),
               server_info = coalesce(%(server_info)s, server_info)
         WHERE id = %(id)s
        """,
        {
            "status": "connected" if ok else "error",
            "now": now,
            "latency_ms": latency_ms,
            "error_code": error_code,
            "protocol_version": protocol_version,
            "discover_result": _json(discover_result),
            "server_info": _json(server_info),
            "id": connection_id,
        },
    )


def store_tools(conn: Connection, connection_id: UUID, tools: list[dict[str, Any]], now: datetime) -> None:
    conn.execute(
        "UPDATE user_mcp_connections SET tools = %s, tools_fetched_at = %s WHERE id = %s",
        (Jsonb(tools), now, connection_id),
    )


def _json(value: dict[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(value)

"""SQL of the platform endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from auralink.db import system_transaction, tenant_transaction


def schema_version() -> str | None:
    with system_transaction() as conn:
        row = conn.execute("SELECT schema_version() AS version").fetchone()
    return None if row is None else row["version"]


def record_user_seen(user_id: str, email: str | None, role: str) -> dict[str, Any]:
    """Upsert the caller's profile row and return its first and last sighting."""
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            """
            INSERT INTO users (user_id, email, role, first_seen_at, last_seen_at)
            VALUES (%(user_id)s, %(email)s, %(role)s, now(), now())
            ON CONFLICT (user_id) DO UPDATE
               SET email = EXCLUDED.email, role = EXCLUDED.role, last_seen_at = now()
            RETURNING first_seen_at, last_seen_at
            """,
            {"user_id": user_id, "email": email, "role": role},
        ).fetchone()
    assert row is not None  # RETURNING of an upsert always yields the row
    first: datetime = row["first_seen_at"]
    last: datetime = row["last_seen_at"]
    return {"first_seen_at": first, "last_seen_at": last}


def mcp_server_health() -> list[dict[str, Any]]:
    """What the scheduled probe last saw of each MCP server."""
    with system_transaction() as conn:
        return conn.execute(
            "SELECT server_name, status, latency_ms, error_code, checked_at FROM mcp_server_health"
            " ORDER BY server_name"
        ).fetchall()

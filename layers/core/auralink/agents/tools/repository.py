"""SQL of the tool call log (`agent_tool_calls`), inside the caller's tenant transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auralink.db import Connection


@dataclass(frozen=True)
class CallRow:
    user_id: str
    run_id: str | None
    tool: str
    error_code: str | None
    latency_ms: int
    request_bytes: int
    response_bytes: int
    mcp_operation_id: str | None


def insert(conn: Connection, row: CallRow) -> str:
    inserted = conn.execute(
        """
        INSERT INTO agent_tool_calls
            (user_id, run_id, tool, status, error_code, latency_ms, request_bytes, response_bytes,
             mcp_operation_id)
        VALUES (%s, %s::uuid, %s, %s, %s, %s, %s, %s, %s::uuid)
        RETURNING id::text AS id
        """,
        (
            row.user_id,
            row.run_id,
            row.tool,
            "success" if row.error_code is None else "error",
            row.error_code,
            row.latency_ms,
            row.request_bytes,
            row.response_bytes,
            row.mcp_operation_id,
        ),
    ).fetchone()
    assert inserted is not None  # RETURNING of an INSERT
    return str(inserted["id"])


def recent(conn: Connection, *, run_id: str | None, limit: int) -> list[dict[str, Any]]:
    """Newest first: the caller's calls, or those of one of the caller's runs."""
    return conn.execute(
        """
        SELECT id::text AS call_id, run_id::text AS run_id, tool, status, error_code, latency_ms,
               request_bytes, response_bytes, mcp_operation_id::text AS mcp_operation_id, created_at
          FROM agent_tool_calls
         WHERE (%(run_id)s::uuid IS NULL OR run_id = %(run_id)s::uuid)
         ORDER BY created_at DESC, id DESC
         LIMIT %(limit)s
        """,
        {"run_id": run_id, "limit": limit},
    ).fetchall()

"""The operation log (`mcp_operation_logs`): every MCP operation, whatever its outcome.

A call's row is inserted as `pending` in a transaction that commits before the server is
contacted, and completed afterwards, so that no call goes unrecorded even if the function dies
in between. Rejections (rate limit, open circuit, bad arguments) are rows too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from auralink.db import Connection, Statement
from auralink.paging import decode_cursor, split_page

Status = Literal["success", "error", "rejected"]


@dataclass(frozen=True)
class OperationRecord:
    user_id: str
    server_name: str
    operation: str
    connection_id: UUID | None = None
    tool: str | None = None
    request_bytes: int | None = None


def start_statement(record: OperationRecord, *, now: datetime, operation_id: UUID) -> Statement:
    """The operation's `pending` row, under an id of the caller's (a random UUID, as the table's
    own): sent again, it inserts nothing more."""
    return Statement(
        """
        INSERT INTO mcp_operation_logs
            (id, user_id, connection_id, server_name, tool, operation, status, request_bytes, created_at)
        VALUES (%s, %s, %s, %s, %s, %s, 'pending', %s, %s)
        ON CONFLICT (id) DO NOTHING
        """,
        (
            operation_id,
            record.user_id,
            record.connection_id,
            record.server_name,
            record.tool,
            record.operation,
            record.request_bytes,
            now,
        ),
    )


def finish_statement(
    operation_id: UUID,
    *,
    status: Status,
    now: datetime,
    latency_ms: int | None = None,
    attempts: int | None = None,
    response_bytes: int | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> Statement:
    """The operation's row completed: the same row, the same values, however often it is sent."""
    return Statement(
        """
        UPDATE mcp_operation_logs
           SET status = %s, latency_ms = %s, attempts = %s, response_bytes = %s, error_code = %s,
               error_message = %s, finished_at = %s
         WHERE id = %s
        """,
        (
            status,
            latency_ms,
            attempts,
            response_bytes,
            error_code,
            None if error_message is None else error_message[:500],
            now,
            operation_id,
        ),
    )


def close_abandoned(conn: Connection, *, older_than_s: int) -> int:
    row = conn.execute(
        "SELECT close_abandoned_mcp_operations(make_interval(secs => %s)) AS closed", (older_than_s,)
    ).fetchone()
    return 0 if row is None else int(row["closed"])


def page(
    conn: Connection, *, limit: int, cursor: str | None, connection_id: UUID | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the cursor is the last row of the previous page."""
    after_at, after_id = decode_cursor(cursor) if cursor is not None else (None, None)
    rows = conn.execute(
        """
        SELECT id, connection_id, server_name, tool, operation, status, error_code, latency_ms, attempts,
               request_bytes, response_bytes, created_at
          FROM mcp_operation_logs
         WHERE (%(connection_id)s::uuid IS NULL OR connection_id = %(connection_id)s)
           AND (%(after_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_at)s, %(after_id)s::uuid))
         ORDER BY created_at DESC, id DESC
         LIMIT %(limit)s
        """,
        {"connection_id": connection_id, "after_at": after_at, "after_id": after_id, "limit": limit + 1},
    ).fetchall()
    return split_page(rows, limit)


def usage(conn: Connection, *, since: datetime) -> list[dict[str, Any]]:
    return conn.execute(
        """
        SELECT server_name, tool,
               count(*)                                        AS calls,
               count(*) FILTER (WHERE status = 'error')        AS errors,
               count(*) FILTER (WHERE status = 'rejected')     AS rejected,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)
                   FILTER (WHERE status IN ('success', 'error')) AS p50_latency_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
                   FILTER (WHERE status IN ('success', 'error')) AS p95_latency_ms
          FROM mcp_operation_logs
         WHERE created_at >= %s AND status <> 'pending'
         GROUP BY server_name, tool
         ORDER BY server_name, tool NULLS FIRST
        """,
        (since,),
    ).fetchall()

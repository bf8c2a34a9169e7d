"""What a user's MCP operations did: the paged log and the statistics per server and tool."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.db import tenant_transaction
from auralink.mcp import oplog
from auralink.mcp.models import Operation, OperationPage, ToolUsage, UsageStats


def operations(
    identity: Identity, *, limit: int, cursor: str | None, connection_id: UUID | None
) -> OperationPage:
    with tenant_transaction(identity.sub) as conn:
        rows, next_cursor = oplog.page(conn, limit=limit, cursor=cursor, connection_id=connection_id)
    return OperationPage(
        operations=[
            Operation(
                operation_id=row["id"],
                connection_id=row["connection_id"],
                server_name=row["server_name"],
                tool=row["tool"],
                operation=row["operation"],
                status=row["status"],
                error_code=row["error_code"],
                latency_ms=row["latency_ms"],
                attempts=row["attempts"],
                request_bytes=row["request_bytes"],
                response_bytes=row["response_bytes"],
                created_at=row["created_at"],
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )


def stats(identity: Identity, *, window_hours: int, clock: Clock = SYSTEM_CLOCK) -> UsageStats:
    since = clock.now() - timedelta(hours=window_hours)
    with tenant_transaction(identity.sub) as conn:
        rows = oplog.usage(conn, since=since)
    usage = []
    for row in rows:
        completed = row["calls"] - row["rejected"]
        usage.append(
            ToolUsage(
                server_name=row["server_name"],
                tool=row["tool"],
                calls=row["calls"],
                errors=row["errors"],
                rejected=row["rejected"],
                error_rate=round(row["errors"] / completed, 4) if completed else 0.0,
                p50_latency_ms=row["p50_latency_ms"],
                p95_latency_ms=row["p95_latency_ms"],
            )
        )
    return UsageStats(window_hours=window_hours, since=since, usage=usage)

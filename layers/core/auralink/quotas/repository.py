"""SQL of the quotas: the per-user lock of run starts, the count of live runs, refusals.

Every function works in the caller's tenant transaction: row-level security keeps each user to
their own lock row, runs and refusals.
"""

from __future__ import annotations

from typing import Any

from auralink.db import Connection
from auralink.quotas.models import QuotaExceeded

_LIVE_STATUSES = ("queued", "running", "waiting_for_input")


def lock_user(conn: Connection, user_id: str) -> None:
    """Hold the user's lock row until the transaction ends: what it admits (a run start, a new
    connection) goes one at a time for that user. A row rather than an advisory lock, which RDS
    Proxy would pin the session for."""
    conn.execute(
        "INSERT INTO quota_locks (user_id) VALUES (%s) ON CONFLICT (user_id) DO UPDATE SET locked_at = now()",
        (user_id,),
    )


def live_runs(conn: Connection) -> int:
    """The caller's runs that are not final: what the concurrent runs quota counts."""
    row = conn.execute(
        "SELECT count(*) AS runs FROM workflow_executions WHERE status = ANY(%s)", (list(_LIVE_STATUSES),)
    ).fetchone()
    assert row is not None  # an aggregate always answers one row
    return int(row["runs"])


def record_refusal(conn: Connection, user_id: str, refusal: QuotaExceeded) -> None:
    conn.execute(
        "INSERT INTO quota_refusals (user_id, quota, limit_value, used, resets_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (user_id, refusal.quota.value, refusal.limit, refusal.used, refusal.resets_at),
    )


def recent_refusals(conn: Connection, *, limit: int) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT quota, limit_value, used, resets_at, created_at FROM quota_refusals"
        " ORDER BY created_at DESC, id DESC LIMIT %s",
        (limit,),
    ).fetchall()

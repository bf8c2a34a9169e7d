"""Rate limits of MCP calls, per user (across servers) and per server (across users).

"Server" is the gateway's key for it: a server shared by every user, or one user's own server
(see `auralink.mcp.gateway.Upstream.key`), which only that user's calls count against.

The counters live in Postgres (`mcp_rate_windows`) so that every Lambda container sees the same
ones. Windows are fixed minutes aligned on the clock (12:00:00 to 12:01:00...): a bucket admits
at most its limit per window, and ``retry_after_seconds`` is the time left until the window
ends. A fixed window can admit up to twice the limit over a minute that straddles a boundary;
the limits are sized for that (they guard servers and costs, not exact quotas).

Each check is one statement per bucket that admits and counts atomically::

    INSERT ... ON CONFLICT DO UPDATE SET calls = calls + 1 WHERE calls < limit RETURNING calls

so N racing callers for the last slot yield exactly one admission. Both buckets are counted in
a savepoint: a call rejected by either limit consumes nothing from the other, and a rejected
call never counts. An admitted call counts even if it later fails.

The buckets' rows stay locked until the caller's transaction ends: keep that transaction short
(the gateway checks the limits, admits the call and commits before calling the server). The
user's bucket is always taken before the server's, so two transactions cannot deadlock.

Old windows are deleted when a bucket starts a new window, and by `purge_expired_windows`.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from auralink.config.models import RateLimits
from auralink.errors import RateLimited

WINDOW_SECONDS = 60
USER_LIMITED = "rate_limited_user"
SERVER_LIMITED = "rate_limited_server"

_CONSUME = """
INSERT INTO mcp_rate_windows AS w (bucket, window_start, calls) VALUES (%(bucket)s, %(window)s, 1)
ON CONFLICT (bucket, window_start) DO UPDATE SET calls = w.calls + 1 WHERE w.calls < %(limit)s
RETURNING calls
"""
_FORGET_OLDER = "DELETE FROM mcp_rate_windows WHERE bucket = %(bucket)s AND window_start < %(window)s"


def user_digest(user_id: str) -> str:
    """How the tables without row-level security (rate windows, breakers) name a user: a digest
    of the subject, never the subject itself."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:32]


def user_bucket(user_id: str) -> str:
    return "user:" + user_digest(user_id)


def server_bucket(server: str) -> str:
    return f"server:{server}"


def window_start(now: datetime) -> datetime:
    """The start of the fixed window that ``now`` falls in."""
    epoch = math.floor(now.timestamp() / WINDOW_SECONDS) * WINDOW_SECONDS
    return datetime.fromtimestamp(epoch, tz=UTC)


def check_and_consume(
    conn: psycopg.Connection[Any],
    *,
    user_id: str,
    server: str,
    limits: RateLimits,
    now: datetime,
    server_name: str | None = None,
) -> None:
    """Count one call of ``user_id`` to ``server``, or raise `RateLimited` and count nothing.

    ``conn`` is in the caller's transaction; the counts are committed with it. ``server_name``
    is the server as the caller knows it, for the refusal's message (``server`` by default).
    """
    start = window_start(now)
    retry_after = max(1, math.ceil((start + timedelta(seconds=WINDOW_SECONDS) - now).total_seconds()))
    with conn.transaction():
        if not _consume(conn, user_bucket(user_id), start, limits.per_user_per_minute):
            raise RateLimited(
                f"Too many MCP calls: at most {limits.per_user_per_minute} per minute per user",
                code=USER_LIMITED,
                retry_after_seconds=retry_after,
            )
        if not _consume(conn, server_bucket(server), start, limits.per_server_per_minute):
            raise RateLimited(
                f"Too many calls to MCP server {server_name or server}:"
                f" at most {limits.per_server_per_minute} per minute",
                code=SERVER_LIMITED,
                retry_after_seconds=retry_after,
            )


def _consume(conn: psycopg.Connection[Any], bucket: str, start: datetime, limit: int) -> bool:
    params = {"bucket": bucket, "window": start, "limit": limit}
    with conn.cursor(row_factory=tuple_row) as cursor:
        row = cursor.execute(_CONSUME, params).fetchone()
        if row is None:
            return False
        if row[0] == 1:
            # This call opened the bucket's window: the bucket's older windows are over.
            cursor.execute(_FORGET_OLDER, params)
    return True


def purge_expired_windows(conn: psycopg.Connection[Any], *, now: datetime) -> int:
    """Delete the windows that ended before ``now``'s window began; returns how many."""
    cursor = conn.execute("DELETE FROM mcp_rate_windows WHERE window_start < %s", (window_start(now),))
    return cursor.rowcount

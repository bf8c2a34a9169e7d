"""Rate limits of MCP calls, per user (across servers) and per server (across users).

"Server" is the gateway's key for it: a server shared by every user, or one user's own server
(see `auralink.mcp.gateway.Upstream.key`), which only that user's calls count against.

The counters live in Postgres (`mcp_rate_windows`) so that every Lambda container sees the same
ones. Windows are fixed minutes aligned on the clock (12:00:00 to 12:01:00...): a bucket admits
at most its limit per window, and ``retry_after_seconds`` is the time left until the window
ends. A fixed window can admit up to twice the limit over a minute that straddles a boundary;
the limits are sized for that (they guard servers and costs, not exact quotas).

Each bucket admits and counts atomically::

    INSERT ... ON CONFLICT DO UPDATE SET calls = calls + 1 WHERE calls < limit RETURNING calls

so N racing callers for the last slot yield exactly one admission. Both buckets are counted by one
statement (`Count.statement`, which the gateway sends in a batch with the rest of its
admission), the server's only if the user's admitted the call. A call rejected by either limit
consumes nothing from the other (the server's refusal takes back the user's count, in the same
transaction), and a rejected call never counts. An admitted call counts even if it later fails.

The buckets' rows stay locked until the caller's transaction ends: keep that transaction short
(the gateway checks the limits, admits the call and commits before calling the server). The
user's bucket is always taken before the server's, so two transactions cannot deadlock.

The counting itself is `auralink.rate_windows`'s, which the per-user quotas share. Old windows
are deleted when a bucket starts a new window, and by `purge_expired_windows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from auralink import rate_windows
from auralink.config.models import RateLimits
from auralink.db import Rows, Statement, execute_batch
from auralink.errors import RateLimited

WINDOW_SECONDS = rate_windows.MINUTE
USER_LIMITED = "rate_limited_user"
SERVER_LIMITED = "rate_limited_server"


def user_bucket(user_id: str) -> str:
    # The table has no row-level security: it names users only by a digest of their subject.
    return "user:" + rate_windows.subject_digest(user_id)


def server_bucket(server: str) -> str:
    return f"server:{server}"


def window_start(now: datetime) -> datetime:
    """The start of the fixed window that ``now`` falls in."""
    return rate_windows.window_at(now, WINDOW_SECONDS).start


@dataclass(frozen=True)
class Count:
    """One call of a user to a server, to count against both limits (made by `count`)."""

    user: str  # the user's bucket
    server: str  # the server's bucket
    server_name: str  # the server as the caller knows it, for the refusal's message
    limits: RateLimits
    now: datetime

    @property
    def window(self) -> rate_windows.Window:
        return rate_windows.window_at(self.now, WINDOW_SECONDS)

    @property
    def statement(self) -> Statement:
        """The one statement that counts the call in both buckets, for a batch; `settle` reads
        its rows."""
        return rate_windows.consume_both_statement(
            self.user,
            self.server,
            self.window,
            earlier_limit=self.limits.per_user_per_minute,
            later_limit=self.limits.per_server_per_minute,
        )


def count(
    *, user_id: str, server: str, limits: RateLimits, now: datetime, server_name: str | None = None
) -> Count:
    """One call of ``user_id`` to ``server`` (the gateway's key for it) at ``now``.
    ``server_name`` is the server as the caller knows it (``server`` by default)."""
    return Count(user_bucket(user_id), server_bucket(server), server_name or server, limits, now)


def check_and_consume(conn: psycopg.Connection[Any], call: Count) -> None:
    """Count ``call``, or raise `RateLimited` and count nothing. ``conn`` is in the caller's
    transaction; the counts are committed with it."""
    (rows,) = execute_batch(conn, [call.statement])
    settle(conn, call, rows)


def settle(conn: psycopg.Connection[Any], call: Count, rows: Rows) -> None:
    """Admit ``call`` as its statement counted it (its ``rows``), or raise `RateLimited` with
    nothing counted; ``conn`` is still in that statement's transaction."""
    window = call.window
    retry_after = window.seconds_left(call.now)
    by_user, by_server = rate_windows.consumed_both(conn, rows, call.user, call.server, window)
    if not by_user:
        raise RateLimited(
            f"Too many MCP calls: at most {call.limits.per_user_per_minute} per minute per user",
            code=USER_LIMITED,
            retry_after_seconds=retry_after,
        )
    if not by_server:
        # Taken back rather than counted in a savepoint, which would cost every admitted call two
        # more round trips. The user's row stays locked by this transaction: nobody saw the count.
        rate_windows.add(conn, call.user, window, -1)
        raise RateLimited(
            f"Too many calls to MCP server {call.server_name}:"
            f" at most {call.limits.per_server_per_minute} per minute",
            code=SERVER_LIMITED,
            retry_after_seconds=retry_after,
        )


def purge_expired_windows(conn: psycopg.Connection[Any], *, now: datetime) -> int:
    """Delete the windows that ended by ``now`` (the quotas' too); returns how many."""
    return rate_windows.purge_expired(conn, now=now)

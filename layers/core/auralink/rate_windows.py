"""Fixed-window counters in Postgres, shared by every Lambda container.

The MCP rate limits and the per-user quotas count in the same table (`mcp_rate_windows`): one
row per bucket and window. A bucket names what it counts as a string (``user:<digest>``,
``runs-hour:<digest>``...); users appear only as a digest of their subject, since the table
has no row-level security. Windows are aligned on the clock (a minute from :00, an hour from
:00, a day from 00:00 UTC) and a row remembers its window's length, so that the purge knows
when it is over.

`consume` admits and counts in one statement::

    INSERT ... ON CONFLICT DO UPDATE SET calls = calls + n WHERE calls + n <= limit RETURNING calls

so N racing callers for the last slot yield exactly one admission. `consume_both_statement`
counts one call in two buckets in one statement, the second only if the first admitted it, to be
sent in a batch with others. The bucket's row stays locked until the caller's transaction ends:
keep that transaction short. `add` counts without a check (usage known only afterwards,
reservations given back), never below zero.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from auralink.db import Rows, Statement

MINUTE = 60
HOUR = 3_600
DAY = 86_400

_CONSUME = """
INSERT INTO mcp_rate_windows AS w (bucket, window_start, window_seconds, calls)
VALUES (%(bucket)s, %(window)s, %(seconds)s, %(amount)s)
ON CONFLICT (bucket, window_start) DO UPDATE SET calls = w.calls + %(amount)s
 WHERE w.calls + %(amount)s <= %(limit)s
RETURNING calls
"""
_ADD = """
INSERT INTO mcp_rate_windows AS w (bucket, window_start, window_seconds, calls)
VALUES (%(bucket)s, %(window)s, %(seconds)s, greatest(%(amount)s, 0))
ON CONFLICT (bucket, window_start) DO UPDATE SET calls = greatest(w.calls + %(amount)s, 0)
"""
# The same in two buckets, in this order: `later` is not touched unless `earlier` admitted.
_CONSUME_BOTH = """
WITH earlier AS (
    INSERT INTO mcp_rate_windows AS w (bucket, window_start, window_seconds, calls)
    VALUES (%(earlier)s, %(window)s, %(seconds)s, 1)
    ON CONFLICT (bucket, window_start) DO UPDATE SET calls = w.calls + 1
     WHERE w.calls + 1 <= %(earlier_limit)s
    RETURNING calls
), later AS (
    INSERT INTO mcp_rate_windows AS w (bucket, window_start, window_seconds, calls)
    SELECT %(later)s, %(window)s, %(seconds)s, 1 FROM earlier
    ON CONFLICT (bucket, window_start) DO UPDATE SET calls = w.calls + 1
     WHERE w.calls + 1 <= %(later_limit)s
    RETURNING calls
)
SELECT (SELECT calls FROM earlier) AS earlier_calls, (SELECT calls FROM later) AS later_calls
"""
_FORGET_OLDER = "DELETE FROM mcp_rate_windows WHERE bucket = %(bucket)s AND window_start < %(window)s"


@dataclass(frozen=True)
class Window:
    """One fixed window: ``seconds`` long from ``start``."""

    start: datetime
    seconds: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def seconds_left(self, now: datetime) -> int:
        """Whole seconds until the window ends, at least 1 (what a Retry-After says)."""
        return max(1, math.ceil((self.end - now).total_seconds()))


def window_at(now: datetime, seconds: int) -> Window:
    """The window of length ``seconds`` that ``now`` falls in."""
    epoch = math.floor(now.timestamp() / seconds) * seconds
    return Window(start=datetime.fromtimestamp(epoch, tz=UTC), seconds=seconds)


def subject_digest(user_id: str) -> str:
    """How a bucket names a user: never the subject itself."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:32]


def consume(
    conn: psycopg.Connection[Any], bucket: str, window: Window, *, limit: int, amount: int = 1
) -> bool:
    """Count ``amount`` in the bucket's window if that keeps it within ``limit``; whether it did.

    ``conn`` is in the caller's transaction; the count is committed (or rolled back) with it.
    """
    if amount > limit:
        return False
    params = _params(bucket, window, amount) | {"limit": limit}
    with conn.cursor(row_factory=tuple_row) as cursor:
        row = cursor.execute(_CONSUME, params).fetchone()
        if row is None:
            return False
        if row[0] == amount:
            # This call opened the bucket's window: the bucket's older windows are over.
            cursor.execute(_FORGET_OLDER, params)
    return True


def consume_both_statement(
    earlier: str, later: str, window: Window, *, earlier_limit: int, later_limit: int
) -> Statement:
    """One call counted in two buckets in one statement, for a batch: in ``earlier``, then in
    ``later`` only if ``earlier`` admitted it (the buckets' rows are always locked in this order, so
    that two transactions cannot deadlock). `consumed_both` reads its row."""
    return Statement(
        _CONSUME_BOTH,
        {
            "earlier": earlier,
            "later": later,
            "window": window.start,
            "seconds": window.seconds,
            "earlier_limit": earlier_limit,
            "later_limit": later_limit,
        },
    )


def consumed_both(
    conn: psycopg.Connection[Any], rows: Rows, earlier: str, later: str, window: Window
) -> tuple[bool, bool]:
    """Whether each bucket of `consume_both_statement` counted the call; ``conn`` is still in its
    transaction. The call admitted by neither or one only is still counted where it was."""
    (row,) = rows
    counts = ((earlier, row["earlier_calls"]), (later, row["later_calls"]))
    for bucket, calls in counts:
        if calls == 1:
            # This call opened the bucket's window: the bucket's older windows are over.
            conn.execute(_FORGET_OLDER, _params(bucket, window, 1))
    return row["earlier_calls"] is not None, row["later_calls"] is not None


def add(conn: psycopg.Connection[Any], bucket: str, window: Window, amount: int) -> None:
    """Add ``amount`` (negative: take back) to the bucket's window, unchecked, never below zero."""
    if amount:
        conn.execute(_ADD, _params(bucket, window, amount))


def used(conn: psycopg.Connection[Any], bucket: str, window: Window) -> int:
    """What the bucket has counted in ``window``."""
    with conn.cursor(row_factory=tuple_row) as cursor:
        row = cursor.execute(
            "SELECT calls FROM mcp_rate_windows WHERE bucket = %s AND window_start = %s",
            (bucket, window.start),
        ).fetchone()
    return 0 if row is None else int(row[0])


def purge_expired(conn: psycopg.Connection[Any], *, now: datetime) -> int:
    """Delete the windows that ended by ``now``; returns how many."""
    cursor = conn.execute(
        "DELETE FROM mcp_rate_windows WHERE window_start + make_interval(secs => window_seconds) <= %s",
        (now,),
    )
    return cursor.rowcount


def _params(bucket: str, window: Window, amount: int) -> dict[str, Any]:
    return {"bucket": bucket, "window": window.start, "seconds": window.seconds, "amount": amount}

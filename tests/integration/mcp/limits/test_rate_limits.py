"""Rate limits on the session Postgres: per user, per server, windows, Retry-After, races, containers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from auralink.config.models import RateLimits
from auralink.db import tenant_transaction
from auralink.errors import RateLimited
from auralink.mcp.limits import (
    SERVER_LIMITED,
    USER_LIMITED,
    check_and_consume,
    count,
    purge_expired_windows,
    server_bucket,
    user_bucket,
)
from tests.support.clock import FakeClock

NOON = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


def consume(
    conn: psycopg.Connection, transaction: Callable, user: str, server: str, limits: RateLimits, now: datetime
) -> None:
    with transaction(conn, user):
        check_and_consume(conn, count(user_id=user, server=server, limits=limits, now=now))


def calls_in_window(owner_conn: psycopg.Connection, bucket: str, now: datetime) -> int:
    row = owner_conn.execute(
        "SELECT coalesce(sum(calls), 0) AS calls FROM mcp_rate_windows"
        " WHERE bucket = %s AND window_start = date_trunc('minute', %s::timestamptz)",
        (bucket, now),
    ).fetchone()
    return int(row["calls"])


def test_a_user_is_limited_across_servers(
    service: pytest.MonkeyPatch, make_user_id: Callable[[str], str], server_name: str, clock: FakeClock
) -> None:
    user = make_user_id("limited")
    limits = RateLimits(per_user_per_minute=3, per_server_per_minute=100)
    clock.advance(15)

    for server in (server_name, server_name + "-b", server_name):
        with tenant_transaction(user) as conn:
            check_and_consume(conn, count(user_id=user, server=server, limits=limits, now=clock.now()))
    with tenant_transaction(user) as conn, pytest.raises(RateLimited) as raised:
        other_server = f"{server_name}-c"
        check_and_consume(conn, count(user_id=user, server=other_server, limits=limits, now=clock.now()))

    assert raised.value.code == USER_LIMITED
    assert raised.value.retry_after_seconds == 45  # the window ends at 12:01:00
    assert "3 per minute" in raised.value.message


def test_a_server_is_limited_across_users(
    service: pytest.MonkeyPatch, make_user_id: Callable[[str], str], server_name: str, clock: FakeClock
) -> None:
    limits = RateLimits(per_user_per_minute=100, per_server_per_minute=2)
    for label in ("first", "second"):
        user = make_user_id(label)
        with tenant_transaction(user) as conn:
            check_and_consume(conn, count(user_id=user, server=server_name, limits=limits, now=clock.now()))

    third = make_user_id("third")
    with tenant_transaction(third) as conn, pytest.raises(RateLimited) as raised:
        later = clock.advance(20.2)
        check_and_consume(conn, count(user_id=third, server=server_name, limits=limits, now=later))

    assert raised.value.code == SERVER_LIMITED
    assert raised.value.retry_after_seconds == 40  # 39.8 s left, rounded up
    assert server_name in raised.value.message


def test_a_rejected_call_consumes_nothing(
    open_container: Callable,
    transaction: Callable,
    owner_conn: psycopg.Connection,
    make_user_id: Callable[[str], str],
    server_name: str,
) -> None:
    conn = open_container()
    user, other = make_user_id("user"), make_user_id("other")
    limits = RateLimits(per_user_per_minute=2, per_server_per_minute=1)

    consume(conn, transaction, other, server_name, limits, NOON)  # fills the server
    for _ in range(3):
        with pytest.raises(RateLimited) as raised:
            consume(conn, transaction, user, server_name, limits, NOON)
        assert raised.value.code == SERVER_LIMITED

    # The server refused the user three times; none of them counted against the user.
    assert calls_in_window(owner_conn, user_bucket(user), NOON) == 0
    assert calls_in_window(owner_conn, server_bucket(server_name), NOON) == 1
    # A caller that goes on after the server's refusal and commits: the refusal took its count back.
    with transaction(conn, user):
        check_and_consume(conn, count(user_id=user, server=server_name + "-b", limits=limits, now=NOON))
        with pytest.raises(RateLimited):
            check_and_consume(conn, count(user_id=user, server=server_name, limits=limits, now=NOON))
    assert calls_in_window(owner_conn, user_bucket(user), NOON) == 1
    consume(conn, transaction, user, server_name + "-c", limits, NOON)
    with pytest.raises(RateLimited) as raised:
        consume(conn, transaction, user, server_name + "-d", limits, NOON)
    assert raised.value.code == USER_LIMITED
    # ...and the user's refusal did not touch server -d: no count, no row, so no lock taken on a
    # row that every user of a shared server needs.
    untouched = owner_conn.execute(
        "SELECT 1 FROM mcp_rate_windows WHERE bucket = %s", (server_bucket(server_name + "-d"),)
    ).fetchone()
    assert untouched is None


def test_counts_commit_with_the_callers_transaction(
    service: pytest.MonkeyPatch,
    owner_conn: psycopg.Connection,
    make_user_id: Callable[[str], str],
    server_name: str,
) -> None:
    user = make_user_id("rollback")
    limits = RateLimits(per_user_per_minute=5, per_server_per_minute=5)

    with pytest.raises(RuntimeError), tenant_transaction(user) as conn:
        check_and_consume(conn, count(user_id=user, server=server_name, limits=limits, now=NOON))
        raise RuntimeError("the request failed before committing")

    assert calls_in_window(owner_conn, user_bucket(user), NOON) == 0
    assert calls_in_window(owner_conn, server_bucket(server_name), NOON) == 0


def test_the_next_window_admits_again_and_drops_the_old_one(
    open_container: Callable,
    transaction: Callable,
    owner_conn: psycopg.Connection,
    make_user_id: Callable[[str], str],
    server_name: str,
    clock: FakeClock,
) -> None:
    conn = open_container()
    user = make_user_id("rollover")
    limits = RateLimits(per_user_per_minute=2, per_server_per_minute=100)
    clock.advance(59.5)

    consume(conn, transaction, user, server_name, limits, clock.now())
    consume(conn, transaction, user, server_name, limits, clock.now())
    with pytest.raises(RateLimited) as raised:
        consume(conn, transaction, user, server_name, limits, clock.now())
    assert raised.value.retry_after_seconds == 1  # half a second left: never 0

    clock.advance(0.5)  # 12:01:00, a new window
    consume(conn, transaction, user, server_name, limits, clock.now())
    consume(conn, transaction, user, server_name, limits, clock.now())
    with pytest.raises(RateLimited) as raised:
        consume(conn, transaction, user, server_name, limits, clock.now())
    assert raised.value.retry_after_seconds == 60

    windows = owner_conn.execute(
        "SELECT window_start, calls FROM mcp_rate_windows WHERE bucket = %s", (user_bucket(user),)
    ).fetchall()
    assert windows == [{"window_start": NOON + timedelta(minutes=1), "calls": 2}]


@pytest.mark.parametrize(
    ("offset", "retry_after"), [(0.0, 60), (0.001, 60), (30.2, 30), (59.0, 1), (59.999, 1)]
)
def test_retry_after_is_the_time_left_in_the_window(
    open_container: Callable,
    transaction: Callable,
    make_user_id: Callable[[str], str],
    server_name: str,
    offset: float,
    retry_after: int,
) -> None:
    conn = open_container()
    user = make_user_id("retry")
    limits = RateLimits(per_user_per_minute=1, per_server_per_minute=100)
    now = NOON + timedelta(seconds=offset)

    consume(conn, transaction, user, server_name, limits, now)
    with pytest.raises(RateLimited) as raised:
        consume(conn, transaction, user, server_name, limits, now)
    assert raised.value.retry_after_seconds == retry_after


def test_two_containers_share_the_counters(
    open_container: Callable, transaction: Callable, make_user_id: Callable[[str], str], server_name: str
) -> None:
    first, second = open_container(), open_container()
    user = make_user_id("shared")
    limits = RateLimits(per_user_per_minute=3, per_server_per_minute=100)

    consume(first, transaction, user, server_name, limits, NOON)
    consume(second, transaction, user, server_name, limits, NOON)
    consume(first, transaction, user, server_name, limits, NOON)
    with pytest.raises(RateLimited):
        consume(second, transaction, user, server_name, limits, NOON)


def _race(
    open_container: Callable, transaction: Callable, callers: list[tuple[str, str]], limits: RateLimits
) -> list[str]:
    """Each caller in its own thread and connection, released together; returns each outcome."""
    connections = [open_container() for _ in callers]
    barrier = threading.Barrier(len(callers))

    def attempt(index: int) -> str:
        user, server = callers[index]
        conn = connections[index]
        with transaction(conn, user):
            barrier.wait(timeout=10)
            try:
                check_and_consume(conn, count(user_id=user, server=server, limits=limits, now=NOON))
            except RateLimited as exc:
                return exc.code
        return "admitted"

    with ThreadPoolExecutor(max_workers=len(callers)) as pool:
        return list(pool.map(attempt, range(len(callers))))


def test_racing_callers_of_one_user_get_exactly_the_limit(
    open_container: Callable,
    transaction: Callable,
    owner_conn: psycopg.Connection,
    make_user_id: Callable[[str], str],
    server_name: str,
) -> None:
    user = make_user_id("racer")
    limits = RateLimits(per_user_per_minute=5, per_server_per_minute=1000)

    outcomes = _race(open_container, transaction, [(user, server_name)] * 12, limits)

    assert outcomes.count("admitted") == 5
    assert outcomes.count(USER_LIMITED) == 7
    assert calls_in_window(owner_conn, user_bucket(user), NOON) == 5
    assert calls_in_window(owner_conn, server_bucket(server_name), NOON) == 5


def test_racing_users_for_the_last_slot_of_a_server_get_exactly_one(
    open_container: Callable,
    transaction: Callable,
    owner_conn: psycopg.Connection,
    make_user_id: Callable[[str], str],
    server_name: str,
) -> None:
    limits = RateLimits(per_user_per_minute=100, per_server_per_minute=4)
    conn = open_container()
    for label in ("early-1", "early-2", "early-3"):
        consume(conn, transaction, make_user_id(label), server_name, limits, NOON)
    racers = [make_user_id(f"late-{index}") for index in range(10)]

    outcomes = _race(open_container, transaction, [(user, server_name) for user in racers], limits)

    assert outcomes.count("admitted") == 1
    assert outcomes.count(SERVER_LIMITED) == 9
    assert calls_in_window(owner_conn, server_bucket(server_name), NOON) == 4
    # The nine refused users were not charged either.
    assert sum(calls_in_window(owner_conn, user_bucket(user), NOON) for user in racers) == 1


def test_buckets_do_not_name_the_user(make_user_id: Callable[[str], str]) -> None:
    user = make_user_id("private-subject")
    assert user not in user_bucket(user)
    assert user_bucket(user) == user_bucket(user)
    assert user_bucket(user) != user_bucket(make_user_id("private-subject"))


def test_expired_windows_are_purged(
    open_container: Callable,
    transaction: Callable,
    owner_conn: psycopg.Connection,
    make_user_id: Callable[[str], str],
    server_name: str,
) -> None:
    conn = open_container()
    limits = RateLimits(per_user_per_minute=10, per_server_per_minute=10)
    long_ago = datetime(2029, 6, 1, 8, 30, 5, tzinfo=UTC)
    consume(conn, transaction, make_user_id("old"), server_name, limits, long_ago)
    current = long_ago + timedelta(days=400)
    consume(conn, transaction, make_user_id("new"), server_name + "-now", limits, current)

    with transaction(conn) as tx:
        purged = purge_expired_windows(tx, now=current)

    assert purged >= 2  # the old call's user and server windows (and any older test's)
    remaining = owner_conn.execute(
        "SELECT bucket FROM mcp_rate_windows WHERE bucket IN (%s, %s)",
        (server_bucket(server_name), server_bucket(server_name + "-now")),
    ).fetchall()
    assert remaining == [{"bucket": server_bucket(server_name + "-now")}]


def test_the_application_role_cannot_truncate_or_see_tenant_data_through_the_counters(
    owner_conn: psycopg.Connection,
) -> None:
    rows = owner_conn.execute(
        "SELECT privilege_type FROM information_schema.role_table_grants"
        " WHERE grantee = 'auralink_app' AND table_name = 'mcp_rate_windows' ORDER BY 1"
    ).fetchall()
    assert [row["privilege_type"] for row in rows] == ["DELETE", "INSERT", "SELECT", "UPDATE"]
    columns = owner_conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'mcp_rate_windows'"
    ).fetchall()
    assert "user_id" not in {row["column_name"] for row in columns}

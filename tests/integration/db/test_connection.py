"""The container's connection: lazy, reused, reopened when broken, and safe to share between threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest
import snapshot_restore_py

from auralink.db import reset_connection, system_transaction, tenant_transaction
from auralink.errors import ServiceUnavailable
from auralink.settings import reset_settings

APPLICATION_NAME = "auralink-db-tests"


def _our_sessions(admin_conn: psycopg.Connection) -> list[int]:
    rows = admin_conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,)
    ).fetchall()
    return [row["pid"] for row in rows]


def _wait_for_sessions(admin_conn: psycopg.Connection, count: int) -> list[int]:
    # A closed session leaves pg_stat_activity a moment after the client hangs up.
    deadline = time.monotonic() + 5
    while len(sessions := _our_sessions(admin_conn)) != count and time.monotonic() < deadline:
        time.sleep(0.02)
    return sessions


def _backend_pid() -> int:
    with system_transaction() as conn:
        row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    assert row is not None
    return int(row["pid"])


def _terminate(admin_conn: psycopg.Connection, pid: int) -> None:
    admin_conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


def test_the_connection_is_opened_on_first_use_and_then_reused(admin_conn: psycopg.Connection) -> None:
    assert _wait_for_sessions(admin_conn, 0) == []

    pids = {_backend_pid() for _ in range(5)}

    assert len(pids) == 1
    assert _our_sessions(admin_conn) == list(pids)


def test_the_connection_is_set_up_for_a_transaction_pooler(make_user_id: Callable[[str], str]) -> None:
    with tenant_transaction(make_user_id()) as conn:
        row = conn.execute(
            "SELECT current_user AS role, current_setting('application_name') AS app"
        ).fetchone()
        assert conn.prepare_threshold is None
    assert conn.autocommit
    assert row == {"role": "auralink_app", "app": APPLICATION_NAME}


def test_a_statement_timeout_holds_inside_the_transaction_only(service_env: pytest.MonkeyPatch) -> None:
    service_env.setenv("DB_STATEMENT_TIMEOUT_MS", "150")
    reset_settings()
    pid = _backend_pid()

    started = time.perf_counter()
    with pytest.raises(ServiceUnavailable) as raised, system_transaction() as conn:
        conn.execute("SELECT pg_sleep(3)")
    assert raised.value.code == "database_timeout"
    assert time.perf_counter() - started < 2

    with system_transaction() as conn:
        row = conn.execute(
            "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS t"
        ).fetchone()
    assert row == {"pid": pid, "t": "150ms"}
    assert conn.execute("SHOW statement_timeout").fetchone() != {"statement_timeout": "150ms"}


def test_a_failed_block_commits_nothing_and_the_next_transaction_starts_clean(
    owner_conn: psycopg.Connection,
) -> None:
    # A subject is the token's to choose: quotes and backslashes reach the server as they are.
    caller = "o'brien\\'; SELECT 1; --"
    marker = f"rollback-{time.monotonic_ns()}"

    with pytest.raises(RuntimeError), system_transaction() as conn:
        conn.execute(
            "INSERT INTO mcp_rate_windows (bucket, window_start, window_seconds, calls)"
            " VALUES (%s, now(), 60, 1)",
            (marker,),
        )
        raise RuntimeError("the caller's block fails")
    with pytest.raises(psycopg.errors.UndefinedTable), system_transaction() as conn:
        conn.execute("SELECT * FROM no_such_table")
    with tenant_transaction(caller) as conn:
        row = conn.execute(
            "SELECT current_setting('app.current_user_id') AS caller, now() = statement_timestamp() AS fresh"
        ).fetchone()

    assert row == {"caller": caller, "fresh": False}  # inside a transaction begun before the statement
    assert (
        owner_conn.execute("SELECT 1 FROM mcp_rate_windows WHERE bucket = %s", (marker,)).fetchone() is None
    )
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_connection_left_inside_a_transaction_is_replaced_rather_than_lent(
    make_user_id: Callable[[str], str],
) -> None:
    with tenant_transaction(make_user_id()) as conn:
        pid = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
    conn.execute("BEGIN")  # as a rollback that failed would leave it

    assert _backend_pid() != pid


def test_a_connection_closed_by_the_server_is_replaced_on_the_next_transaction(
    admin_conn: psycopg.Connection, make_user_id: Callable[[str], str]
) -> None:
    first = _backend_pid()
    _terminate(admin_conn, first)

    user_id = make_user_id()
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            "SELECT pg_backend_pid() AS pid, current_setting('app.current_user_id') AS caller"
        ).fetchone()

    assert row is not None
    assert row["pid"] != first
    assert row["caller"] == user_id
    assert _wait_for_sessions(admin_conn, 1) == [row["pid"]]


def test_a_connection_lost_inside_a_transaction_fails_that_transaction_only(
    admin_conn: psycopg.Connection,
) -> None:
    pid = _backend_pid()

    with pytest.raises(ServiceUnavailable) as raised, system_transaction() as conn:
        _terminate(admin_conn, pid)
        conn.execute("SELECT 1")
    assert raised.value.code == "database_unavailable"

    assert _backend_pid() != pid


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    # Powertools passes structured fields as record attributes.
    return " ".join(str(vars(record)) for record in caplog.records)


def test_an_unreachable_database_is_unavailable_and_says_nothing_secret(
    service_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service_env.setenv("DATABASE_URL", "postgresql://auralink_app:hunter2-secret@127.0.0.1:9/auralink")
    service_env.setenv("DB_CONNECT_TIMEOUT_S", "1")
    reset_settings()

    with pytest.raises(ServiceUnavailable) as raised, system_transaction():
        pass

    error = raised.value
    assert error.code == "database_unavailable"
    assert error.__cause__ is None and error.__suppress_context__
    assert "127.0.0.1" not in str(error)
    logged = _logged(caplog)
    assert "Connection refused" in logged  # the reason reaches the log, for whoever operates it
    assert "hunter2" not in str(error) + repr(error.details) + logged


def test_a_malformed_database_url_is_not_quoted_anywhere(
    service_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # libpq's parse errors quote the whole string, password included.
    service_env.setenv("DATABASE_URL", "postgresql://auralink_app:hunter2-secret@[broken/auralink")
    reset_settings()

    with pytest.raises(ServiceUnavailable) as raised, system_transaction():
        pass

    assert raised.value.code == "database_unavailable"
    assert "database connection failed" in _logged(caplog)
    assert "hunter2" not in str(raised.value) + _logged(caplog)


def test_a_nested_transaction_is_refused(make_user_id: Callable[[str], str]) -> None:
    with (
        tenant_transaction(make_user_id()),
        pytest.raises(RuntimeError, match="already open"),
        system_transaction(),
    ):
        pass

    assert _backend_pid() > 0


def test_threads_take_turns_and_never_see_each_others_caller(make_user_id: Callable[[str], str]) -> None:
    users = [make_user_id(f"thread{index}") for index in range(4)]
    mismatches: list[tuple[str, str]] = []
    failures: list[BaseException] = []

    def work(user_id: str) -> None:
        try:
            for _ in range(25):
                with tenant_transaction(user_id) as conn:
                    row = conn.execute("SELECT app_current_user_id() AS caller, pg_sleep(0.001)").fetchone()
                if row is None or row["caller"] != user_id:
                    mismatches.append((user_id, str(row)))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(user_id,)) for user_id in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert mismatches == []


def test_the_snapstart_hook_drops_the_connection(admin_conn: psycopg.Connection) -> None:
    before = _backend_pid()
    hooks = [func for func, _, _ in snapshot_restore_py.get_after_restore()]
    assert reset_connection in hooks

    for func, args, kwargs in snapshot_restore_py.get_after_restore():
        func(*args, **kwargs)

    assert _wait_for_sessions(admin_conn, 0) == []
    assert _backend_pid() != before

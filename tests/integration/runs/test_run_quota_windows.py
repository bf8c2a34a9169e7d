"""The quotas' windows on the test's own clock, the lock that makes run starts race-safe, and the
bound on a run's steps (in-process)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from auralink.agents.runs import service as runs
from auralink.agents.runs.models import StepCommand
from auralink.agents.runs.repository import insert_run
from auralink.db import Connection, tenant_transaction
from auralink.quotas import service as quotas
from auralink.quotas.models import Quota, QuotaExceeded
from infra.local.postgres import LocalDatabase
from tests.support import environment
from tests.support.clock import FakeClock
from tests.support.runs import CountingExecutor, create_run, create_workflow, executor_in_place, read_run


@pytest.fixture(autouse=True)
def _service(service: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return service


def test_the_hourly_window_starts_again_on_the_hour(
    _service: pytest.MonkeyPatch, make_user_id: Callable[[str], str]
) -> None:
    _service.setenv("QUOTA_RUNS_PER_HOUR", "1")
    environment.forget_caches()
    user = make_user_id("hourly")
    clock = FakeClock(datetime(2031, 5, 1, 9, 59, 0, tzinfo=UTC))

    def admit() -> None:
        with tenant_transaction(user) as conn:
            quotas.lock_run_starts(conn, user)
            quotas.admit_run(conn, user, now=clock.now())

    admit()
    try:
        admit()
    except QuotaExceeded as exc:
        assert (exc.quota, exc.retry_after_seconds) == (Quota.RUNS_PER_HOUR, 60)
    else:
        raise AssertionError("the second run of the hour was admitted")
    clock.advance(60)
    admit()


def test_a_run_stops_at_the_configured_number_of_steps(
    _service: pytest.MonkeyPatch, make_user_id: Callable[[str], str]
) -> None:
    _service.setenv("RUN_MAX_STEPS", "2")
    environment.forget_caches()
    user = make_user_id("looping")
    with executor_in_place("test-looping", CountingExecutor(steps=50)):
        run_id = create_run(user, framework="test-looping")
        command = StepCommand.model_validate({"run_id": run_id, "user_id": user})
        statuses = [service_step(command) for _ in range(3)]

    assert statuses == ["running", "running", "failed"]
    run = read_run(user, run_id)
    assert run["error"] == {"code": "step_limit_exceeded", "message": "The run needed more than 2 steps"}


def service_step(command: StepCommand) -> str:
    return runs.advance(command, remaining_ms=60_000).status.value


def test_a_second_start_waits_for_the_first_and_counts_its_run(
    _service: pytest.MonkeyPatch, database: LocalDatabase, make_user_id: Callable[[str], str]
) -> None:
    """Two starts of one user for the last slot, interleaved at the worst moment: the second
    counts its live runs while the first has inserted its run but not committed it."""
    _service.setenv("QUOTA_CONCURRENT_RUNS", "1")
    environment.forget_caches()
    user = make_user_id("racer")
    workflow = UUID(create_workflow(user))
    now = datetime(2031, 5, 1, 9, 0, tzinfo=UTC)

    def start_in(conn: Connection) -> None:
        conn.execute("SELECT set_config('app.current_user_id', %s, true)", (user,))
        quotas.lock_run_starts(conn, user)
        insert_run(
            conn,
            user_id=user,
            workflow_id=workflow,
            framework="test-racing",
            run_input={},
            options={},
            idempotency_key=None,
        )
        quotas.admit_run(conn, user, now=now)

    outcome: list[BaseException | None] = []
    pid: list[int] = []

    def second_start() -> None:
        with psycopg.connect(database.app_dsn, row_factory=dict_row) as second:
            pid.append(second.info.backend_pid)
            try:
                start_in(second)
                outcome.append(None)
            except QuotaExceeded as refused:
                second.rollback()  # as the refused request's transaction does
                outcome.append(refused)

    with (
        psycopg.connect(database.app_dsn, row_factory=dict_row) as first,
        psycopg.connect(database.app_dsn, row_factory=dict_row, autocommit=True) as watcher,
    ):
        start_in(first)  # admitted, not committed
        racer = threading.Thread(target=second_start)
        racer.start()
        # The second start waits on the user's lock row, held by the first's transaction.
        while not (pid and _waits_on_the_lock_row(watcher, pid[0])):
            racer.join(0.01)
            assert racer.is_alive(), outcome
        first.commit()
        racer.join()

    (refused,) = outcome
    assert isinstance(refused, QuotaExceeded)
    assert (refused.quota, refused.limit, refused.used) == (Quota.CONCURRENT_RUNS, 1, 1)


def _waits_on_the_lock_row(watcher: psycopg.Connection, backend_pid: int) -> bool:
    row = watcher.execute(
        "SELECT wait_event_type, query FROM pg_stat_activity WHERE pid = %s", (backend_pid,)
    ).fetchone()
    return row is not None and row["wait_event_type"] == "Lock" and "quota_locks" in row["query"]

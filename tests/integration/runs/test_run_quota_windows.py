"""The quotas' windows on the test's own clock, and the bound on a run's steps (in-process)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from auralink.agents.runs import service as runs
from auralink.agents.runs.models import StepCommand
from auralink.db import tenant_transaction
from auralink.quotas import service as quotas
from auralink.quotas.models import Quota, QuotaExceeded
from tests.support import environment
from tests.support.clock import FakeClock
from tests.support.runs import CountingExecutor, create_run, executor_in_place, read_run


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

"""The run step function on the real database: how one run advances, ends, fails and is cancelled."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from psycopg.types.json import Jsonb

from auralink.agents.runs import repository
from auralink.agents.runs.executors import register_executor, unregister_executor
from auralink.agents.runs.service import StepInterrupted
from auralink.db import tenant_transaction
from auralink.errors import NotFound, ServiceUnavailable
from auralink.llm.metrics import CallRecord, record
from tests.support.handlers import invoke, sample_event
from tests.support.runs import (
    CountingExecutor,
    FailingExecutor,
    RaisingExecutor,
    ScriptedExecutor,
    create_run,
    read_run,
    request_cancel,
)


@pytest.fixture(autouse=True)
def _service(service):
    return service


@pytest.fixture
def executors():
    registered: list[str] = []

    def register(framework, executor):
        register_executor(framework, executor)
        registered.append(framework)
        return executor

    yield register
    for framework in registered:
        unregister_executor(framework)


def step(run_id: str, user_id: str, **extra):
    return invoke("RunStepFunction", {"run_id": run_id, "user_id": user_id, **extra})


def test_a_run_advances_step_by_step_until_it_succeeds(executors, make_user_id):
    executor = executors("test-counting", CountingExecutor(steps=3))
    user = make_user_id()
    run_id = create_run(user, framework="test-counting", run_input={"x": 1})

    statuses = [step(run_id, user)["status"] for _ in range(3)]

    assert statuses == ["running", "running", "succeeded"]
    assert [steps for _, steps in executor.seen] == [0, 1, 2]
    run = read_run(user, run_id)
    assert run["status"] == "succeeded" and run["steps_done"] == 3
    assert run["output"] == {"total": 3, "input": {"x": 1}}
    assert [event["node"] for event in run["events"]] == ["step-1", "step-2", "step-3"]
    assert run["started_at"] is not None and run["finished_at"] >= run["started_at"]


def test_a_finished_run_is_not_stepped_again(executors, make_user_id):
    executor = executors("test-once", CountingExecutor(steps=1))
    user = make_user_id()
    run_id = create_run(user, framework="test-once")
    step(run_id, user)

    assert step(run_id, user)["status"] == "succeeded"
    assert len(executor.seen) == 1


def test_a_cancel_request_stops_the_run_at_the_next_step(executors, make_user_id):
    executors("test-long", CountingExecutor(steps=10))
    user = make_user_id()
    run_id = create_run(user, framework="test-long")
    step(run_id, user)

    request_cancel(user, run_id)

    assert step(run_id, user)["status"] == "cancelled"
    run = read_run(user, run_id)
    assert run["status"] == "cancelled" and run["steps_done"] == 1 and run["finished_at"] is not None


def test_an_unknown_framework_fails_the_run_with_a_reason(make_user_id):
    user = make_user_id()
    run_id = create_run(user, framework="no-such-framework")

    assert step(run_id, user)["status"] == "failed"
    assert read_run(user, run_id)["error"]["code"] == "unsupported_framework"


def test_an_executor_that_raises_fails_the_run_without_leaking_detail(executors, make_user_id):
    executors("test-raising", RaisingExecutor())
    user = make_user_id()
    run_id = create_run(user, framework="test-raising")

    assert step(run_id, user)["status"] == "failed"
    error = read_run(user, run_id)["error"]
    assert error["code"] == "executor_error"
    assert "sk-leaked" not in json.dumps(error)


def test_an_executor_failure_keeps_its_reason(executors, make_user_id):
    executors("test-failing", FailingExecutor())
    user = make_user_id()
    run_id = create_run(user, framework="test-failing")

    assert step(run_id, user)["status"] == "failed"
    assert read_run(user, run_id)["error"] == {"code": "model_error", "message": "The model refused"}


def test_the_state_machine_catch_path_records_the_failure(make_user_id):
    user = make_user_id()
    run_id = create_run(user, framework="test-counting")
    event = sample_event("RunStepFunction.fail") | {"run_id": run_id, "user_id": user}

    assert invoke("RunStepFunction", event)["status"] == "failed"
    error = read_run(user, run_id)["error"]
    assert error["code"] == "step_failed" and "Sandbox.Timedout" in error["message"]


def test_another_users_run_cannot_be_stepped(executors, make_user_id):
    executors("test-counting", CountingExecutor())
    owner, intruder = make_user_id("owner"), make_user_id("intruder")
    run_id = create_run(owner, framework="test-counting")

    with pytest.raises(Exception) as caught:
        step(run_id, intruder)

    assert getattr(caught.value, "code", None) == "run_not_found"
    assert read_run(owner, run_id)["status"] == "queued"


@pytest.mark.parametrize(
    "event",
    [
        {"run_id": "not-a-uuid", "user_id": "u"},
        {"run_id": "0f6f2c4e-7a51-4b8e-9d2a-3c1b5e8f7a90"},
        {"run_id": "0f6f2c4e-7a51-4b8e-9d2a-3c1b5e8f7a90", "user_id": "u", "action": "explode"},
    ],
)
def test_malformed_commands_are_refused_before_any_work(event):
    with pytest.raises(Exception) as caught:
        invoke("RunStepFunction", event)
    assert "ValidationError" in type(caught.value).__name__


def test_a_waiting_run_is_not_stepped_until_it_is_resumed(executors, make_user_id):
    executor = executors("test-asking", ScriptedExecutor())
    user = make_user_id()
    run_id = create_run(user, framework="test-asking", run_input={"script": "ask"})
    assert step(run_id, user)["status"] == "waiting_for_input"

    assert step(run_id, user)["status"] == "waiting_for_input"
    assert len(executor.seen) == 1

    with tenant_transaction(user) as conn:
        conn.execute(
            "UPDATE workflow_executions SET status = 'running', resume_input = %s WHERE id = %s::uuid",
            (Jsonb({"value": None}), run_id),
        )
    with tenant_transaction(user) as conn:
        run, _ = repository.claim_for_step(conn, uuid.UUID(run_id))
    assert run.has_resume_input and run.resume_input is None
    assert step(run_id, user)["status"] == "succeeded"
    stored = read_run(user, run_id)
    assert stored["resume_input"] is None  # consumed
    assert stored["output"] is None


def test_an_executor_can_see_a_cancel_request_between_nodes(make_user_id):
    user = make_user_id()
    run_id = create_run(user, framework="test-counting")

    def cancel_requested(as_user: str) -> bool:
        with tenant_transaction(as_user) as conn:
            return repository.cancel_requested(conn, uuid.UUID(run_id))

    assert cancel_requested(user) is False

    request_cancel(user, run_id)

    assert cancel_requested(user) is True
    with pytest.raises(NotFound):
        cancel_requested(make_user_id("intruder"))


def _emitted_metrics(output: str) -> dict[str, list[float]]:
    """The metric values of the EMF documents a handler printed, by name."""
    values: dict[str, list[float]] = {}
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return values


def test_a_finished_run_reports_its_duration_steps_and_cost(executors, make_user_id, capsys):
    executors("test-metered", CountingExecutor(steps=2))
    user = make_user_id()
    run_id = create_run(user, framework="test-metered")
    step(run_id, user)
    record(
        CallRecord(
            user_id=user,
            provider="openai",
            model="gpt-5.4",
            latency_ms=10,
            status="success",
            cost_usd=Decimal("0.25"),
            run_id=uuid.UUID(run_id),
        )
    )
    capsys.readouterr()

    step(run_id, user)

    emitted = _emitted_metrics(capsys.readouterr().out)
    assert emitted["AgentExecutions"] == [1]
    assert emitted["RunStepsPerRun"] == [2]
    assert emitted["RunCostUSD"] == [0.25]
    assert len(emitted["RunDuration"]) == 1 and emitted["RunDuration"][0] >= 0


class FlakyDatabaseExecutor:
    """Its first step finds the database gone (as a failover would); later ones count on."""

    def __init__(self) -> None:
        self.calls = 0
        self.counting = CountingExecutor(steps=1)

    def step(self, run, *, deadline_ms):
        self.calls += 1
        if self.calls == 1:
            raise ServiceUnavailable("the database is unavailable", code="database_unavailable")
        return self.counting.step(run, deadline_ms=deadline_ms)


def test_a_step_interrupted_by_the_database_raises_for_a_retry_and_the_run_goes_on(executors, make_user_id):
    executors("test-flaky", FlakyDatabaseExecutor())
    user = make_user_id()
    run_id = create_run(user, framework="test-flaky")

    with pytest.raises(StepInterrupted):
        step(run_id, user)
    interrupted = read_run(user, run_id)
    retried = step(run_id, user)

    assert (interrupted["status"], interrupted["error"]) == ("running", None)
    assert retried["status"] == "succeeded"

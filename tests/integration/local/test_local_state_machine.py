"""The template's run state machine, executed by moto, with its Lambda tasks run by the local runtime.

A test executor installed in the run step's environments for a test framework drives the run: the
real ASL loops on the run-step handler until the run's status is final, and the Catch path records
a step that crashed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from auralink.db import tenant_transaction
from infra.local.runtime import LocalRuntime
from tests.support.runs import REFUSING, THREE_STEPS, UNSAVEABLE, ThreeSteps

# The run step's environments know the test frameworks (tests.support.runs).
ENVIRONMENT_SETUP = ("tests.support.runs:install_test_executors",)


def insert_run(user_id: str, framework: str) -> str:
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            "INSERT INTO workflow_executions (user_id, framework, input) VALUES (%s, %s, '{}')"
            " RETURNING id::text AS id",
            (user_id, framework),
        ).fetchone()
    assert row is not None
    return str(row["id"])


def read_run(user_id: str, run_id: str) -> dict[str, Any]:
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            "SELECT status, steps_done, output, error FROM workflow_executions WHERE id = %s::uuid", (run_id,)
        ).fetchone()
    assert row is not None
    return dict(row)


def execute(runtime: LocalRuntime, run_id: str, user_id: str) -> dict[str, Any]:
    """Start the run's execution and wait for its end; returns describe_execution's answer."""
    client = runtime.step_functions()
    started = client.start_execution(
        stateMachineArn=runtime.state_machine_arns["RunStateMachine"],
        name=run_id,
        input=json.dumps({"run_id": run_id, "user_id": user_id}),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = client.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING":
            history = client.get_execution_history(executionArn=started["executionArn"])["events"]
            return {**described, "history": history}
        time.sleep(0.05)
    raise AssertionError("the execution did not finish within 30 s")


def task_calls(history: list[dict[str, Any]]) -> list[str]:
    return [
        event["lambdaFunctionScheduledEventDetails"]["resource"]
        for event in history
        if event["type"] == "LambdaFunctionScheduled"
    ]


def test_run_loops_through_the_step_function_until_it_succeeds(
    local_runtime: LocalRuntime, make_user_id: Callable[[str], str]
) -> None:
    user_id = make_user_id("alice")
    run_id = insert_run(user_id, THREE_STEPS)

    execution = execute(local_runtime, run_id, user_id)

    assert execution["status"] == "SUCCEEDED"
    calls = task_calls(execution["history"])
    assert len(calls) == ThreeSteps.steps
    # The definition's ${RunStepFunctionArn} became the local ARN of the function's alias.
    assert set(calls) == {"arn:aws:lambda:us-east-1:123456789012:function:RunStepFunction:live"}
    run = read_run(user_id, run_id)
    assert run["status"] == "succeeded"
    assert run["steps_done"] == ThreeSteps.steps
    assert run["output"] == {"answer": 42}


def test_run_that_fails_ends_the_execution_as_failed(
    local_runtime: LocalRuntime, make_user_id: Callable[[str], str]
) -> None:
    user_id = make_user_id("bob")
    run_id = insert_run(user_id, REFUSING)

    execution = execute(local_runtime, run_id, user_id)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RunFailed"
    assert len(task_calls(execution["history"])) == 1
    assert read_run(user_id, run_id)["error"] == {"code": "refused", "message": "No"}


def test_crashing_step_is_caught_and_recorded_on_the_run(
    local_runtime: LocalRuntime, make_user_id: Callable[[str], str]
) -> None:
    user_id = make_user_id("carol")
    run_id = insert_run(user_id, UNSAVEABLE)

    execution = execute(local_runtime, run_id, user_id)

    assert execution["status"] == "FAILED"
    # The Step task failed, so the Catch path called the function again with action=fail.
    assert len(task_calls(execution["history"])) == 2
    run = read_run(user_id, run_id)
    assert run["status"] == "failed"
    assert run["error"]["code"] == "step_failed"


def test_scheduled_function_runs_on_demand(local_runtime: LocalRuntime) -> None:
    result = local_runtime.fire_schedule("RefreshSummariesFunction")

    assert set(result["refreshed"]) == {
        "agent_performance_summary",
        "mcp_usage_summary",
        "llm_comparison_view",
    }

"""The sweeper: runs left unstarted past their grace period are started, or failed when too old.

Rows are written as a dead function leaves them, backdated; the sweeper is invoked the way its
schedule invokes it, against the local runtime and moto's Step Functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from auralink.agents.runs.control import WORKFLOW_FRAMEWORK
from auralink.agents.runs.sweeper import GIVE_UP_AFTER_S, START_GRACE_S
from infra.local.lambdas import FunctionError
from infra.local.runtime import LocalRuntime
from tests.support.handlers import sample_event
from tests.support.runs import SCRIPTED_WORKFLOWS, create_run, create_unstarted_run, create_workflow, read_run

if TYPE_CHECKING:
    from tests.integration.runs.conftest import RunsClient

ABANDONED_S = START_GRACE_S + 60
MISSING_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine"

ENVIRONMENT_SETUP = SCRIPTED_WORKFLOWS


@pytest.fixture
def sweep(scripted_runtime: LocalRuntime) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        event = sample_event("RunSweeperFunction")
        result: dict[str, Any] = scripted_runtime.invoke("RunSweeperFunction", event)
        return result

    return run


def names(executions: list[dict[str, Any]]) -> list[str]:
    return [execution["name"] for execution in executions]


def test_abandoned_runs_of_every_user_are_started_and_run(
    runs_client: Callable[[str], RunsClient],
    sweep: Callable[[], dict[str, Any]],
    executions_of: Callable[[str], list[dict[str, Any]]],
    step_functions: Any,
) -> None:
    alice, bob = runs_client("alice"), runs_client("bob")
    runs = {
        client: create_unstarted_run(
            client.user_id,
            framework=WORKFLOW_FRAMEWORK,
            workflow_id=create_workflow(client.user_id),
            run_input={"owner": client.user_id},
            waited_s=ABANDONED_S,
        )
        for client in (alice, bob)
    }

    result = sweep()

    assert result["started"] >= 2
    for client, run_id in runs.items():
        assert names(executions_of(run_id)) == [f"{run_id}-1"]
        assert read_run(client.user_id, run_id)["execution_arn"] == executions_of(run_id)[0]["executionArn"]
        # The execution names the run's framework, which chooses the step function.
        started = step_functions.describe_execution(executionArn=executions_of(run_id)[0]["executionArn"])
        assert json.loads(started["input"]) == {
            "run_id": run_id,
            "user_id": client.user_id,
            "framework": WORKFLOW_FRAMEWORK,
        }
        view = client.settle(run_id)
        assert (view["status"], view["output"]) == ("succeeded", {"owner": client.user_id})


def test_a_run_within_its_grace_period_is_left_to_the_request_starting_it(
    runs_client: Callable[[str], RunsClient],
    sweep: Callable[[], dict[str, Any]],
    executions_of: Callable[[str], list[dict[str, Any]]],
) -> None:
    alice = runs_client("alice")
    run_id = create_unstarted_run(alice.user_id, framework=WORKFLOW_FRAMEWORK, waited_s=START_GRACE_S / 4)
    # A run that no execution starts (the step is driven otherwise) is never the sweeper's.
    driven = create_run(alice.user_id, framework=WORKFLOW_FRAMEWORK)

    sweep()

    for unswept in (run_id, driven):
        assert executions_of(unswept) == []
        assert read_run(alice.user_id, unswept)["status"] == "queued"


def test_a_run_left_unstarted_too_long_is_failed_not_started(
    runs_client: Callable[[str], RunsClient],
    sweep: Callable[[], dict[str, Any]],
    executions_of: Callable[[str], list[dict[str, Any]]],
) -> None:
    alice = runs_client("alice")
    run_id = create_unstarted_run(alice.user_id, framework=WORKFLOW_FRAMEWORK, waited_s=GIVE_UP_AFTER_S + 60)

    result = sweep()

    assert result["failed"] >= 1
    view = alice.get(run_id)
    assert view["status"] == "failed"
    assert view["error"] == {
        "code": "run_not_started",
        "message": "The run could not be started within 60 minutes of being requested",
    }
    assert view["finished_at"] is not None
    assert executions_of(run_id) == []


def test_a_resumed_run_whose_execution_never_started_is_started_with_its_answer(
    runs_client: Callable[[str], RunsClient],
    sweep: Callable[[], dict[str, Any]],
    executions_of: Callable[[str], list[dict[str, Any]]],
) -> None:
    alice = runs_client("alice")
    run_id = create_unstarted_run(
        alice.user_id,
        framework=WORKFLOW_FRAMEWORK,
        run_input={"script": "ask"},
        resumed=True,
        resumed_with={"approved": True},
        waited_s=ABANDONED_S,
    )

    sweep()

    assert names(executions_of(run_id)) == [f"{run_id}-2"]
    view = alice.settle(run_id)
    assert (view["status"], view["output"]) == ("succeeded", {"approved": True})


def test_the_sweeper_and_a_repeated_request_racing_start_one_execution(
    runs_client: Callable[[str], RunsClient],
    sweep: Callable[[], dict[str, Any]],
    executions_of: Callable[[str], list[dict[str, Any]]],
) -> None:
    alice = runs_client("alice")
    workflow_id = create_workflow(alice.user_id)
    run_ids = [
        create_unstarted_run(
            alice.user_id,
            framework=WORKFLOW_FRAMEWORK,
            workflow_id=workflow_id,
            run_input={"n": n},
            idempotency_key=f"race-{n}",
            waited_s=ABANDONED_S,
        )
        for n in range(5)
    ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        swept = pool.submit(sweep)
        replays = [
            pool.submit(alice.execute, workflow_id, {"input": {"n": n}}, f"race-{n}") for n in range(5)
        ]
        swept.result()
        answers = [replay.result() for replay in replays]

    assert [answer.status_code for answer in answers] == [202] * 5
    assert [answer.json()["run_id"] for answer in answers] == run_ids
    for n, run_id in enumerate(run_ids):
        assert names(executions_of(run_id)) == [f"{run_id}-1"]
        assert alice.settle(run_id)["output"] == {"n": n}


def test_a_refusing_state_machine_fails_the_sweep_and_the_runs_wait_for_the_fix(
    runs_client: Callable[[str], RunsClient],
    sweep: Callable[[], dict[str, Any]],
    start_environment: Callable[..., Any],
    executions_of: Callable[[str], list[dict[str, Any]]],
) -> None:
    alice = runs_client("alice")
    waiting = create_unstarted_run(alice.user_id, framework=WORKFLOW_FRAMEWORK, waited_s=ABANDONED_S)
    too_old = create_unstarted_run(alice.user_id, framework=WORKFLOW_FRAMEWORK, waited_s=GIVE_UP_AFTER_S + 60)

    with (
        start_environment(RUN_STATE_MACHINE_ARN=MISSING_MACHINE),
        pytest.raises(FunctionError, match="ConfigurationError"),
    ):
        sweep()

    assert read_run(alice.user_id, too_old)["status"] == "failed"
    assert read_run(alice.user_id, waiting)["status"] == "queued"
    assert executions_of(waiting) == []

    sweep()

    assert names(executions_of(waiting)) == [f"{waiting}-1"]
    assert alice.settle(waiting)["status"] == "succeeded"

"""Starting runs safely: a failed or abandoned start, and what the API answers for each failure.

Against the local runtime, whose moto serves Step Functions and runs the real state machine.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from auralink.agents.runs.control import WORKFLOW_FRAMEWORK
from tests.support.runs import SCRIPTED_WORKFLOWS, create_unstarted_run, create_workflow, read_run

if TYPE_CHECKING:
    from tests.integration.runs.conftest import RunsClient

MISSING_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine"

ENVIRONMENT_SETUP = SCRIPTED_WORKFLOWS


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable() -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_SFN": f"http://127.0.0.1:{closed_port()}"}


# ----------------------------------------------------------------- a run its request left unstarted


def test_a_repeated_key_starts_the_run_its_first_request_left_unstarted(
    runs_client: Callable[[str], RunsClient],
    executions_of: Callable[[str], list[dict[str, Any]]],
    step_functions: Any,
) -> None:
    # Given a run recorded by a request whose function died before starting its execution
    alice = runs_client("alice")
    workflow_id = create_workflow(alice.user_id)
    run_id = create_unstarted_run(
        alice.user_id,
        framework=WORKFLOW_FRAMEWORK,
        workflow_id=workflow_id,
        run_input={"order": 7},
        idempotency_key="order-7",
    )

    # When the client repeats the request
    response = alice.execute(workflow_id, {"input": {"order": 7}}, key="order-7")

    # Then it gets the answer the first request would have given, and the run runs
    assert response.status_code == 202, response.text
    assert response.json() == {"run_id": run_id, "status": "queued"}
    assert response.headers["idempotent-replayed"] == "true"
    assert [execution["name"] for execution in executions_of(run_id)] == [f"{run_id}-1"]
    assert read_run(alice.user_id, run_id)["execution_arn"] == executions_of(run_id)[0]["executionArn"]
    started = step_functions.describe_execution(executionArn=executions_of(run_id)[0]["executionArn"])
    assert json.loads(started["input"])["framework"] == WORKFLOW_FRAMEWORK
    view = alice.settle(run_id)
    assert (view["status"], view["output"]) == ("succeeded", {"order": 7})


def test_a_repeated_key_with_another_body_starts_nothing(
    runs_client: Callable[[str], RunsClient], executions_of: Callable[[str], list[dict[str, Any]]]
) -> None:
    alice = runs_client("alice")
    workflow_id = create_workflow(alice.user_id)
    run_id = create_unstarted_run(
        alice.user_id, framework=WORKFLOW_FRAMEWORK, workflow_id=workflow_id, idempotency_key="k"
    )

    response = alice.execute(workflow_id, {"input": {"other": True}}, key="k")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert executions_of(run_id) == []
    assert read_run(alice.user_id, run_id)["status"] == "queued"


def test_an_execution_that_exists_already_is_the_runs_execution(
    runs_client: Callable[[str], RunsClient],
    executions_of: Callable[[str], list[dict[str, Any]]],
    step_functions: Any,
    run_machine: str,
) -> None:
    # Given a run whose execution <run id>-1 was started (and has ended) but never recorded
    alice = runs_client("alice")
    workflow_id = create_workflow(alice.user_id)
    run_id = str(uuid.uuid4())
    earlier = step_functions.start_execution(
        stateMachineArn=run_machine,
        name=f"{run_id}-1",
        input=json.dumps({"run_id": run_id, "user_id": alice.user_id}),
    )["executionArn"]
    wait_until_closed(step_functions, earlier)
    create_unstarted_run(
        alice.user_id,
        framework=WORKFLOW_FRAMEWORK,
        workflow_id=workflow_id,
        idempotency_key="once",
        run_id=run_id,
    )

    # When the request is repeated, Step Functions answers ExecutionAlreadyExists
    response = alice.execute(workflow_id, {"input": {}}, key="once")

    # Then the run counts as started by that execution, and no second one exists
    assert response.status_code == 202, response.text
    assert [execution["executionArn"] for execution in executions_of(run_id)] == [earlier]
    assert read_run(alice.user_id, run_id)["execution_arn"] == earlier


def wait_until_closed(step_functions: Any, execution_arn: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while step_functions.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)


# ---------------------------------------------------------------------------- refused starts


@pytest.mark.parametrize(
    "machine", [MISSING_MACHINE, "arn:aws:states:eu-west-1:123456789012:stateMachine:elsewhere"]
)
def test_a_state_machine_that_cannot_be_started_is_a_configuration_error_that_fails_the_run(
    runs_client: Callable[[str], RunsClient],
    start_environment: Callable[..., Any],
    executions_of: Callable[[str], list[dict[str, Any]]],
    machine: str,
) -> None:
    alice = runs_client("alice")
    workflow_id = create_workflow(alice.user_id)

    with start_environment(RUN_STATE_MACHINE_ARN=machine):
        response = alice.execute(workflow_id, {"input": {}})

    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "configuration_error"
    assert "retry-after" not in response.headers
    run_id = error["details"]["run_id"]
    view = alice.get(run_id)
    assert view["status"] == "failed"
    assert view["error"] == {
        "code": "configuration_error",
        "message": "The run could not be started: the service is misconfigured",
    }
    assert view["finished_at"] is not None
    assert executions_of(run_id) == []


@pytest.mark.parametrize(
    ("environment", "status", "code"),
    [
        (unreachable, 503, "orchestrator_unavailable"),
        (lambda: {"RUN_STATE_MACHINE_ARN": MISSING_MACHINE}, 500, "configuration_error"),
    ],
)
def test_with_a_key_a_failed_start_keeps_the_run_for_the_repeated_request(
    runs_client: Callable[[str], RunsClient],
    start_environment: Callable[..., Any],
    executions_of: Callable[[str], list[dict[str, Any]]],
    environment: Callable[[], dict[str, str]],
    status: int,
    code: str,
) -> None:
    alice = runs_client("alice")
    workflow_id = create_workflow(alice.user_id)
    body = {"input": {"attempt": "kept"}}

    with start_environment(**environment()):
        failed = alice.execute(workflow_id, body, key="kept")
    again = alice.execute(workflow_id, body, key="kept")

    assert failed.status_code == status
    assert failed.json()["error"]["code"] == code
    run_id = failed.json()["error"]["details"]["run_id"]
    assert again.status_code == 202, again.text
    assert again.json() == {"run_id": run_id, "status": "queued"}
    assert [execution["name"] for execution in executions_of(run_id)] == [f"{run_id}-1"]
    assert alice.settle(run_id)["output"] == {"attempt": "kept"}


def test_an_unreachable_orchestrator_answers_503_with_a_whole_retry_after(
    runs_client: Callable[[str], RunsClient], start_environment: Callable[..., Any]
) -> None:
    alice = runs_client("alice")
    workflow_id = create_workflow(alice.user_id)

    with start_environment(**unreachable()):
        response = alice.execute(workflow_id, {"input": {}})

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    error = response.json()["error"]
    assert error["code"] == "orchestrator_unavailable"
    assert alice.get(error["details"]["run_id"])["error"]["code"] == "orchestrator_unavailable"


# ------------------------------------------------------------------------------------- resume


def test_a_resume_whose_start_failed_keeps_the_answer_and_the_same_answer_again_starts_it(
    runs_client: Callable[[str], RunsClient],
    start_environment: Callable[..., Any],
    executions_of: Callable[[str], list[dict[str, Any]]],
) -> None:
    alice = runs_client("alice")
    run_id = alice.execute(create_workflow(alice.user_id), {"input": {"script": "ask"}}).json()["run_id"]
    assert alice.settle(run_id)["status"] == "waiting_for_input"

    with start_environment(**unreachable()):
        failed = alice.resume(run_id, {"input": {"approved": True}})
    other_answer = alice.resume(run_id, {"input": {"approved": False}})
    stored = read_run(alice.user_id, run_id)
    again = alice.resume(run_id, {"input": {"approved": True}})

    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "orchestrator_unavailable"
    assert (stored["status"], stored["executions"], stored["execution_arn"]) == ("running", 2, None)
    assert stored["resume_input"] == {"value": {"approved": True}}
    assert other_answer.status_code == 409
    assert other_answer.json()["error"]["code"] == "run_not_waiting"
    assert again.status_code == 202, again.text
    done = alice.settle(run_id)
    assert (done["status"], done["output"]) == ("succeeded", {"approved": True})
    assert [execution["name"] for execution in executions_of(run_id)] == [f"{run_id}-1", f"{run_id}-2"]

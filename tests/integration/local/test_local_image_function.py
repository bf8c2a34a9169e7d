"""The image function on the local runtime: CrewStepFunction runs in CrewAI's own interpreter.

Its environments are processes of `.venv-crewai`'s Python with the function's folder and the
auralink package on the path, one invocation at a time each, as the run step's are of this
project's. The same event gets the same answer from both step functions wherever the answer needs
no executor (a run that does not exist, a run already finished, a run its owner cancelled), and
the run state machine sends a CrewAI run's steps to the crew step.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from infra.local.lambdas import FunctionError, function_arn
from infra.local.runtime import LocalRuntime
from tests.support.crew import CREW_STEP, crew_python
from tests.support.runs import create_run, read_run, request_cancel

RUN_STEP = "RunStepFunction"


@pytest.fixture(scope="module", autouse=True)
def crew_environment() -> None:
    crew_python()  # created before the runtime's first crew step, not inside its init


def step(runtime: LocalRuntime, function_id: str, run_id: str, user_id: str) -> Any:
    return runtime.invoke(function_id, {"run_id": run_id, "user_id": user_id})


def failure(runtime: LocalRuntime, function_id: str, run_id: str, user_id: str) -> dict[str, Any]:
    with pytest.raises(FunctionError) as raised:
        step(runtime, function_id, run_id, user_id)
    return raised.value.payload


def test_a_run_that_does_not_exist_is_refused_as_the_run_step_refuses_it(
    local_runtime: LocalRuntime, make_user_id: Callable[[str], str]
) -> None:
    user_id, run_id = make_user_id("alice"), str(uuid.uuid4())

    crew, run = (failure(local_runtime, name, run_id, user_id) for name in (CREW_STEP, RUN_STEP))

    assert (crew["errorType"], crew["errorMessage"]) == (run["errorType"], run["errorMessage"])
    assert (crew["errorType"], crew["errorMessage"]) == ("NotFound", "Run not found")


def test_the_crew_steps_environments_are_processes_of_crewais_interpreter(
    local_runtime: LocalRuntime, make_user_id: Callable[[str], str]
) -> None:
    failure(local_runtime, CREW_STEP, str(uuid.uuid4()), make_user_id("bob"))

    crew_processes = [
        child
        for child in psutil.Process().children(recursive=True)
        if child.cmdline()[:1] == [str(crew_python())]
    ]

    # Each of its environments, and nothing else, is a process of CrewAI's interpreter.
    assert len(crew_processes) == local_runtime.functions.environment_count(CREW_STEP) >= 1


def test_a_finished_crewai_run_is_answered_with_its_status_by_both_steps(
    local_runtime: LocalRuntime, make_user_id: Callable[[str], str]
) -> None:
    user_id = make_user_id("carol")
    run_id = create_run(user_id, framework="crewai")
    request_cancel(user_id, run_id)
    # A queued run asked to cancel is cancelled at its first step, by either function, executor or not.
    assert step(local_runtime, CREW_STEP, run_id, user_id) == {"run_id": run_id, "status": "cancelled"}

    answers = [step(local_runtime, function_id, run_id, user_id) for function_id in (CREW_STEP, RUN_STEP)]

    assert answers == [{"run_id": run_id, "status": "cancelled"}] * 2
    run = read_run(user_id, run_id)
    assert (run["status"], run["error"]) == ("cancelled", None)
    assert run["finished_at"] is not None


def test_the_state_machine_steps_a_crewai_run_in_the_crew_step(
    local_runtime: LocalRuntime, make_user_id: Callable[[str], str]
) -> None:
    user_id = make_user_id("dave")
    run_id = create_run(user_id, framework="crewai")
    request_cancel(user_id, run_id)
    client = local_runtime.step_functions()

    started = client.start_execution(
        stateMachineArn=local_runtime.state_machine_arns["RunStateMachine"],
        name=f"{run_id}-1",
        input=json.dumps({"run_id": run_id, "user_id": user_id, "framework": "crewai"}),
    )
    execution = _finished(client, started["executionArn"])

    assert execution["status"] == "SUCCEEDED"
    history = client.get_execution_history(executionArn=started["executionArn"])["events"]
    called = [
        event["lambdaFunctionScheduledEventDetails"]["resource"]
        for event in history
        if event["type"] == "LambdaFunctionScheduled"
    ]
    assert called == [function_arn(CREW_STEP)]
    assert read_run(user_id, run_id)["status"] == "cancelled"


def _finished(client: Any, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("the execution did not finish within 60 s")

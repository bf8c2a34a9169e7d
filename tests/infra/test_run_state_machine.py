"""The run state machine: its ASL is well formed, and moto's interpreter runs every path of it.

The executions run the real `infra/statemachines/run.asl.json` in moto (in process); the one fake is
at the AWS boundary: Lambda answers the state machine's invocations from a script of step results.
A run's framework chooses its step function (CrewAI's runs step in CrewStepFunction), and every path
is run through both.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from tests.infra.template_support import ROOT

REGION = "us-east-1"
ALIAS_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:auralink-test-RunStepFunction:live"
CREW_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:auralink-test-CrewStepFunction"
SUBSTITUTIONS = {"RunStepFunctionArn": ALIAS_ARN, "CrewStepFunctionArn": CREW_ARN}
# What each step gets: the run and its user (the framework only chooses the function).
RUN = {"run_id": "0f6f2c4e-7a51-4b8e-9d2a-3c1b5e8f7a90", "user_id": "alice"}
# An execution's input, by the step function its framework chooses.
ROUTES = {
    "langgraph": ({**RUN, "framework": "langgraph"}, ALIAS_ARN),
    "autogen": ({**RUN, "framework": "autogen"}, ALIAS_ARN),
    "crewai": ({**RUN, "framework": "crewai"}, CREW_ARN),
    # Started before executions named their framework: the run step knows every framework but CrewAI.
    "unnamed": (RUN, ALIAS_ARN),
}
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def _definition_text(template: dict[str, Any]) -> str:
    uri = template["Resources"]["RunStateMachine"]["Properties"]["DefinitionUri"]
    return (ROOT / uri).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(_definition_text(template))
    return parsed


# ---------------------------------------------------------------------------------- static checks


def test_every_placeholder_has_a_substitution_and_every_substitution_is_used(
    template: dict[str, Any],
) -> None:
    placeholders = set(re.findall(r"\$\{([^}]+)\}", _definition_text(template)))
    substitutions = set(template["Resources"]["RunStateMachine"]["Properties"]["DefinitionSubstitutions"])

    assert placeholders == substitutions == {"RunStepFunctionArn", "CrewStepFunctionArn"}


def _targets(state: dict[str, Any]) -> list[str]:
    targets = [state[key] for key in ("Next", "Default") if key in state]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets


def test_every_transition_leads_to_a_state_and_every_state_is_reachable(definition: dict[str, Any]) -> None:
    states = definition["States"]
    reachable, frontier = set(), [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        assert name in states, f"transition to unknown state {name!r}"
        if name not in reachable:
            reachable.add(name)
            frontier.extend(_targets(states[name]))

    assert reachable == set(states)


def test_every_path_ends_in_a_terminal_state(definition: dict[str, Any]) -> None:
    for name, state in definition["States"].items():
        terminal = state["Type"] in {"Succeed", "Fail"} or state.get("End") is True
        assert terminal or _targets(state), f"{name} leads nowhere"


def test_the_route_maps_every_status_the_step_reports(definition: dict[str, Any]) -> None:
    states = definition["States"]
    route = states["Route"]
    by_status = {
        choice["StringEquals"]: choice["Next"] for choice in route["Choices"] if "StringEquals" in choice
    }

    # Another step of the same run: its framework chooses the function again.
    assert by_status["running"] == definition["StartAt"] == "Framework"
    for status in ("succeeded", "waiting_for_input", "cancelled"):
        assert states[by_status[status]]["Type"] == "Succeed", status
    assert "failed" not in by_status
    assert states[route["Default"]]["Type"] == "Fail"


def test_the_framework_chooses_the_crew_step_for_crewai_and_the_run_step_for_the_rest(
    definition: dict[str, Any],
) -> None:
    choice = definition["States"]["Framework"]

    assert choice["Type"] == "Choice"
    # A missing framework fails no Choice: it is tested for presence first.
    assert choice["Choices"] == [
        {
            "And": [
                {"Variable": "$.framework", "IsPresent": True},
                {"Variable": "$.framework", "StringEquals": "crewai"},
            ],
            "Next": "CrewStep",
        }
    ]
    assert choice["Default"] == "Step"


def test_the_crew_step_is_the_step_in_the_crew_function(definition: dict[str, Any]) -> None:
    # ASL has no references: the two tasks are written twice and must not drift apart.
    step, crew = definition["States"]["Step"], definition["States"]["CrewStep"]

    assert crew["Resource"] == "${CrewStepFunctionArn}"
    assert {k: v for k, v in crew.items() if k not in {"Resource", "Comment"}} == {
        k: v for k, v in step.items() if k not in {"Resource", "Comment"}
    }


def test_the_tasks_call_the_step_functions_and_retry_lambda_service_errors(
    definition: dict[str, Any],
) -> None:
    for name, resource in (
        ("Step", "${RunStepFunctionArn}"),
        ("CrewStep", "${CrewStepFunctionArn}"),
        # It only records the failure on the run: the run step does that for every framework.
        ("MarkFailed", "${RunStepFunctionArn}"),
    ):
        task = definition["States"][name]

        assert task["Resource"] == resource
        assert task["Parameters"]["run_id.$"] == "$.run_id"
        assert task["Parameters"]["user_id.$"] == "$.user_id"
        assert task["ResultPath"] == "$.step"
        assert set(task["Retry"][0]["ErrorEquals"]) == LAMBDA_SERVICE_ERRORS
        assert task["Retry"][0]["BackoffRate"] > 1
    # A step that the database's outage interrupted is run again: it resumes from the checkpoint.
    interrupted, died = definition["States"]["Step"]["Retry"][1:]
    assert interrupted["ErrorEquals"] == ["StepInterrupted"]
    assert interrupted["MaxAttempts"] >= 3 and interrupted["BackoffRate"] > 1
    # A step killed mid-way (timeout, memory, crash) is done once more from what it saved.
    assert {"Sandbox.Timedout", "States.Timeout", "Runtime.ExitError"} <= set(died["ErrorEquals"])
    assert died["MaxAttempts"] == 1
    assert definition["States"]["Step"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}
    ]
    assert definition["States"]["MarkFailed"]["Parameters"] == {
        "run_id.$": "$.run_id",
        "user_id.$": "$.user_id",
        # The execution's input, for the run's trace header (auralink.agents.runs.starts).
        "execution.$": "$$.Execution.Input",
        "action": "fail",
        "error.$": "$.error",
    }


def test_the_machine_has_a_time_limit(definition: dict[str, Any]) -> None:
    assert 0 < definition["TimeoutSeconds"] <= 86_400


# ---------------------------------------------------------------------------------- executions


@dataclass
class ScriptedStep:
    """Lambda at the AWS boundary: answers each invocation with the next scripted outcome.

    An outcome is a step result (a dict) or the name of an error the function raised.
    """

    outcomes: list[dict[str, Any] | str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def invoke(
        self, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        self.calls.append((function_name, json.loads(body)))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, str):
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": outcome, "errorMessage": "step failed"}).encode()
        return json.dumps(outcome).encode()


@pytest.fixture
def step(monkeypatch: pytest.MonkeyPatch) -> ScriptedStep:
    scripted = ScriptedStep()
    monkeypatch.setattr(
        LambdaSimpleBackend,
        "invoke",
        lambda _backend, *args: scripted.invoke(*args),
    )
    return scripted


@pytest.fixture
def machine_arn(template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    definition = _definition_text(template)
    for name, value in SUBSTITUTIONS.items():
        definition = definition.replace("${" + name + "}", value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        client = boto3.client("stepfunctions", region_name=REGION)
        created = client.create_state_machine(
            name="auralink-test-run",
            definition=definition,
            roleArn="arn:aws:iam::123456789012:role/auralink-test-RunStateMachineRole",
            type="STANDARD",
        )
        yield created["stateMachineArn"]


@pytest.fixture(params=sorted(ROUTES))
def route(request: pytest.FixtureRequest) -> tuple[dict[str, Any], str]:
    """An execution's input and the step function that its framework chooses."""
    return ROUTES[request.param]


def _run(machine_arn: str, execution_input: dict[str, Any]) -> dict[str, Any]:
    client = boto3.client("stepfunctions", region_name=REGION)
    execution_arn = client.start_execution(
        stateMachineArn=machine_arn, name=execution_input["run_id"], input=json.dumps(execution_input)
    )["executionArn"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        described = client.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.02)
    raise AssertionError("the execution did not finish in 15 s")


def _command(execution_input: dict[str, Any]) -> dict[str, Any]:
    """What a step receives: the run, its user, and the execution's input (for its trace header)."""
    return {**RUN, "execution": execution_input}


def _status(value: str) -> dict[str, str]:
    return {"run_id": RUN["run_id"], "status": value}


Route = tuple[dict[str, Any], str]


def test_a_run_steps_until_it_succeeds(machine_arn: str, step: ScriptedStep, route: Route) -> None:
    execution_input, function = route
    step.outcomes = [_status("running"), _status("running"), _status("succeeded")]

    execution = _run(machine_arn, execution_input)

    assert execution["status"] == "SUCCEEDED"
    # Every step of the run in the function its framework chose, with the run and its user only.
    assert step.calls == [(function, _command(execution_input))] * 3
    assert json.loads(execution["output"])["step"] == _status("succeeded")


@pytest.mark.parametrize("status", ["waiting_for_input", "cancelled"])
def test_a_run_that_waits_or_is_cancelled_ends_the_execution_successfully(
    machine_arn: str, step: ScriptedStep, route: Route, status: str
) -> None:
    execution_input, function = route
    step.outcomes = [_status("running"), _status(status)]

    execution = _run(machine_arn, execution_input)

    assert execution["status"] == "SUCCEEDED"
    assert step.calls == [(function, _command(execution_input))] * 2


@pytest.mark.parametrize("result", [_status("failed"), _status("exploded"), {"run_id": RUN["run_id"]}])
def test_a_failed_or_unknown_status_fails_the_execution_without_marking_again(
    machine_arn: str, step: ScriptedStep, route: Route, result: dict[str, str]
) -> None:
    # "failed" means the step function recorded the failure already (its step cap, for one).
    execution_input, function = route
    step.outcomes = [result]

    execution = _run(machine_arn, execution_input)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RunFailed"
    assert step.calls == [(function, _command(execution_input))]


def test_a_step_that_raises_is_marked_failed_with_its_error_by_the_run_step(
    machine_arn: str, step: ScriptedStep, route: Route
) -> None:
    execution_input, function = route
    step.outcomes = [_status("running"), "ValueError", _status("failed")]

    execution = _run(machine_arn, execution_input)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RunFailed"
    assert [name for name, _ in step.calls] == [function, function, ALIAS_ARN]
    (_, mark_failed) = step.calls[-1]
    assert mark_failed["action"] == "fail"
    assert {key: mark_failed[key] for key in ("run_id", "user_id")} == RUN
    assert mark_failed["error"]["Error"] == "ValueError"
    assert json.loads(mark_failed["error"]["Cause"])["errorType"] == "ValueError"


def test_a_lambda_service_error_is_retried_not_failed(
    machine_arn: str, step: ScriptedStep, route: Route
) -> None:
    execution_input, function = route
    step.outcomes = ["Lambda.TooManyRequestsException", _status("succeeded")]

    execution = _run(machine_arn, execution_input)

    assert execution["status"] == "SUCCEEDED"
    assert step.calls == [(function, _command(execution_input))] * 2


def test_a_step_that_died_is_done_once_more(machine_arn: str, step: ScriptedStep, route: Route) -> None:
    execution_input, function = route
    step.outcomes = ["Runtime.ExitError", _status("succeeded")]

    assert _run(machine_arn, execution_input)["status"] == "SUCCEEDED"
    assert step.calls == [(function, _command(execution_input))] * 2


def test_an_interrupted_step_is_retried(machine_arn: str, step: ScriptedStep, route: Route) -> None:
    execution_input, function = route
    step.outcomes = ["StepInterrupted", _status("succeeded")]

    assert _run(machine_arn, execution_input)["status"] == "SUCCEEDED"
    assert step.calls == [(function, _command(execution_input))] * 2

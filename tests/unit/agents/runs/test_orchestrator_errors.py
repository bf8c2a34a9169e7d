"""How a refused StartExecution is classified (a Step Functions on loopback plays the errors moto
cannot)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from auralink import aws_json
from auralink.agents.runs import orchestrator
from tests.support.aws_loopback import Loopback, serving

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:auralink-run"
NAME = "0f6f2c4e-7a51-4b8e-9d2a-3c1b5e8f7a90-1"
PAYLOAD = {"run_id": "0f6f2c4e-7a51-4b8e-9d2a-3c1b5e8f7a90", "user_id": "alice"}


@pytest.fixture
def stub(service_environment: pytest.MonkeyPatch) -> Iterator[Loopback]:
    service_environment.setenv("RUN_STATE_MACHINE_ARN", MACHINE)
    service_environment.setattr(aws_json, "_BACKOFF_BASE_S", 0.0)
    with serving() as server:
        service_environment.setenv("AWS_ENDPOINT_URL_SFN", server.url)
        yield server
        assert server.answers == [], "answers left unsent"


def refuse(stub: Loopback, code: str, status: int) -> None:
    stub.answer(status, {"__type": f"com.amazonaws.swf.service.v2.model#{code}", "message": "refused"})


def test_a_started_execution_answers_its_arn(stub: Loopback) -> None:
    arn = orchestrator.execution_arn(MACHINE, NAME)
    stub.answer(200, {"executionArn": arn, "startDate": 1.79e9})

    assert orchestrator.start_execution(NAME, PAYLOAD) == arn


def test_an_execution_that_exists_already_is_the_answer(stub: Loopback) -> None:
    refuse(stub, "ExecutionAlreadyExists", 400)

    assert orchestrator.start_execution(NAME, PAYLOAD) == (
        f"arn:aws:states:us-east-1:123456789012:execution:auralink-run:{NAME}"
    )


@pytest.mark.parametrize(
    ("code", "status", "attempts"),
    [
        # Throttling and 5xx are tried once more before the caller hears of them.
        ("ThrottlingException", 400, 2),
        ("SomethingNew", 502, 2),
        ("ServiceUnavailable", 503, 2),
        ("InternalFailure", 500, 2),
        # Quotas that clear by themselves are not worth a second try within the request.
        ("KmsThrottlingException", 400, 1),
        ("ExecutionLimitExceeded", 400, 1),
    ],
)
def test_throttling_quotas_and_5xx_are_worth_a_retry(
    stub: Loopback, code: str, status: int, attempts: int
) -> None:
    for _ in range(attempts):
        refuse(stub, code, status)

    with pytest.raises(orchestrator.OrchestratorUnavailable) as raised:
        orchestrator.start_execution(NAME, PAYLOAD)

    assert raised.value.retry_after_seconds == orchestrator.RETRY_AFTER_S
    assert isinstance(orchestrator.RETRY_AFTER_S, int)
    assert len(stub.received) == attempts


def test_a_retried_start_that_goes_through_answers_its_arn(stub: Loopback) -> None:
    refuse(stub, "ThrottlingException", 400)
    stub.answer(200, {"executionArn": orchestrator.execution_arn(MACHINE, NAME), "startDate": 1.79e9})

    assert orchestrator.start_execution(NAME, PAYLOAD) == orchestrator.execution_arn(MACHINE, NAME)
    assert [json.loads(body)["name"] for _, _, _, body in stub.received] == [NAME, NAME]


def test_an_unreachable_step_functions_is_worth_a_retry(service_environment: pytest.MonkeyPatch) -> None:
    service_environment.setenv("RUN_STATE_MACHINE_ARN", MACHINE)
    service_environment.setenv("AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:9")
    service_environment.setattr(aws_json, "_BACKOFF_BASE_S", 0.0)

    with pytest.raises(orchestrator.OrchestratorUnavailable):
        orchestrator.start_execution(NAME, PAYLOAD)


@pytest.mark.parametrize(
    "code",
    [
        "AccessDeniedException",
        "KmsAccessDeniedException",
        "KmsInvalidStateException",
        "InvalidArn",
        "StateMachineDoesNotExist",
        "StateMachineDeleting",
        "UnrecognizedClientException",
        "ValidationException",
    ],
)
def test_refusals_no_retry_fixes_are_configuration_errors_and_logged_as_such(
    stub: Loopback, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    refuse(stub, code, 400)

    with pytest.raises(orchestrator.OrchestratorMisconfigured):
        orchestrator.start_execution(NAME, PAYLOAD)

    logged = [record for record in caplog.records if "configuration error" in record.getMessage()]
    assert [(record.levelname, getattr(record, "aws_error", None)) for record in logged] == [("ERROR", code)]


def test_the_payload_is_the_execution_input(stub: Loopback) -> None:
    stub.answer(200, {"executionArn": orchestrator.execution_arn(MACHINE, NAME), "startDate": 1.79e9})

    orchestrator.start_execution(NAME, PAYLOAD, trace_header="Root=1-6750a3c1-0123456789abcdef01234567")

    [(method, _, headers, body)] = stub.received
    assert (method, headers["X-Amz-Target"]) == ("POST", "AWSStepFunctions.StartExecution")
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert json.loads(body) == {
        "stateMachineArn": MACHINE,
        "name": NAME,
        "input": '{"run_id": "0f6f2c4e-7a51-4b8e-9d2a-3c1b5e8f7a90", "user_id": "alice"}',
        "traceHeader": "Root=1-6750a3c1-0123456789abcdef01234567",
    }


def test_without_credentials_nothing_is_started_and_it_is_the_deployment_s_error(
    stub: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")

    with pytest.raises(orchestrator.OrchestratorMisconfigured):
        orchestrator.start_execution(NAME, PAYLOAD)

    assert stub.received == []

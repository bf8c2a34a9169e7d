"""How a refused StartExecution is classified (botocore's Stubber plays the errors moto cannot)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from auralink.agents.runs import orchestrator

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:auralink-run"
NAME = "0f6f2c4e-7a51-4b8e-9d2a-3c1b5e8f7a90-1"
PAYLOAD = {"run_id": "0f6f2c4e-7a51-4b8e-9d2a-3c1b5e8f7a90", "user_id": "alice"}


@pytest.fixture
def stub(service_environment: pytest.MonkeyPatch) -> Iterator[Stubber]:
    service_environment.setenv("RUN_STATE_MACHINE_ARN", MACHINE)
    with Stubber(orchestrator._client()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def refuse(stub: Stubber, code: str, status: int) -> None:
    stub.add_client_error(
        "start_execution", service_error_code=code, service_message="refused", http_status_code=status
    )


def test_a_started_execution_answers_its_arn(stub: Stubber) -> None:
    arn = orchestrator.execution_arn(MACHINE, NAME)
    stub.add_response("start_execution", {"executionArn": arn, "startDate": "2026-01-01T00:00:00Z"})

    assert orchestrator.start_execution(NAME, PAYLOAD) == arn


def test_an_execution_that_exists_already_is_the_answer(stub: Stubber) -> None:
    refuse(stub, "ExecutionAlreadyExists", 400)

    assert orchestrator.start_execution(NAME, PAYLOAD) == (
        f"arn:aws:states:us-east-1:123456789012:execution:auralink-run:{NAME}"
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("KmsThrottlingException", 400),
        ("ExecutionLimitExceeded", 400),
        ("ServiceUnavailable", 503),
        ("InternalFailure", 500),
        ("SomethingNew", 502),
    ],
)
def test_throttling_quotas_and_5xx_are_worth_a_retry(stub: Stubber, code: str, status: int) -> None:
    refuse(stub, code, status)

    with pytest.raises(orchestrator.OrchestratorUnavailable) as raised:
        orchestrator.start_execution(NAME, PAYLOAD)

    assert raised.value.retry_after_seconds == orchestrator.RETRY_AFTER_S
    assert isinstance(orchestrator.RETRY_AFTER_S, int)


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
    stub: Stubber, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    refuse(stub, code, 400)

    with pytest.raises(orchestrator.OrchestratorMisconfigured):
        orchestrator.start_execution(NAME, PAYLOAD)

    logged = [record for record in caplog.records if "configuration error" in record.getMessage()]
    assert [(record.levelname, getattr(record, "aws_error", None)) for record in logged] == [("ERROR", code)]


def test_the_payload_is_the_execution_input(stub: Stubber) -> None:
    expected: dict[str, Any] = {
        "stateMachineArn": MACHINE,
        "name": NAME,
        "input": '{"run_id": "0f6f2c4e-7a51-4b8e-9d2a-3c1b5e8f7a90", "user_id": "alice"}',
    }
    stub.add_response(
        "start_execution",
        {"executionArn": orchestrator.execution_arn(MACHINE, NAME), "startDate": "2026-01-01T00:00:00Z"},
        expected,
    )

    orchestrator.start_execution(NAME, PAYLOAD)

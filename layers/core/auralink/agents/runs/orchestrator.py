"""Starts executions of the run state machine (Step Functions), and says what a failure means.

StartExecution is one signed POST (`auralink.aws_json`), not boto3, whose import and client took
150-400 ms of the first run start of a container. A call that did not reach Step Functions, a 5xx
or throttling is tried once more: a start is safe to repeat, since an execution's name is unique.
What still fails is classified:

- ``ExecutionAlreadyExists``: an execution of that name was started before (execution names are
  ``<run id>-<n>``, one per run and execution): the run is started, which is all the caller asked;
- throttling, quotas that clear by themselves, 5xx and network failures: `OrchestratorUnavailable`,
  worth retrying later;
- everything else (access denied, a malformed or unknown state machine ARN, a KMS key that cannot
  be used, a request Step Functions finds invalid): `OrchestratorMisconfigured`, which no retry
  fixes until the deployment is.

The caller decides what happens to the run.
"""

from __future__ import annotations

import json
from typing import Any

from auralink.errors import ConfigurationError
from auralink.observability import logger
from auralink.settings import get_settings

# What a client that met a busy or unreachable Step Functions is told to wait.
RETRY_AFTER_S = 5
ALREADY_STARTED = "ExecutionAlreadyExists"
# 4xx codes that mean "not now" rather than "not like this": throttling, and the quota of open
# executions, which frees up as executions end.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "KmsThrottlingException",
        "ExecutionLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalFailure",
    }
)


class OrchestratorUnavailable(Exception):
    """Step Functions could not start the execution now (throttled, 5xx, unreachable)."""

    retry_after_seconds = RETRY_AFTER_S


class OrchestratorMisconfigured(Exception):
    """Step Functions refused the execution for a reason no retry fixes (permissions, ARN...)."""


def state_machine_arn() -> str:
    arn = get_settings().run_state_machine_arn
    if arn is None:
        raise ConfigurationError("RUN_STATE_MACHINE_ARN is not set for this function")
    return arn


def execution_arn(machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of the state machine ``machine_arn``."""
    prefix, _, machine = machine_arn.partition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


def start_execution(name: str, payload: dict[str, Any], *, trace_header: str | None = None) -> str:
    """Start the execution ``name`` of the run state machine, or find it started already; its ARN.

    A standard state machine answers a repeated start of a running execution (same name and
    input) with that execution, and one of a finished execution with ``ExecutionAlreadyExists``:
    either way the execution exists, and only one ever does. ``trace_header`` (X-Ray's format)
    puts the execution in that trace where the state machine is traced.
    """
    # Loaded at the first start: the functions that only read runs share this module.
    from auralink import aws_json  # noqa: PLC0415

    machine = state_machine_arn()
    request = {"stateMachineArn": machine, "name": name, "input": json.dumps(payload)}
    if trace_header:
        request["traceHeader"] = trace_header
    try:
        started = aws_json.call(aws_json.STEP_FUNCTIONS, "StartExecution", request)
    except aws_json.AwsError as exc:
        if exc.code == ALREADY_STARTED:
            logger.info("run execution already started", extra={"execution": name})
            return execution_arn(machine, name)
        # Not reached, 5xx and throttling are retryable; no credentials or region are the deployment's.
        raise _classified(name, exc.code, transient=exc.retryable or exc.code in TRANSIENT_CODES) from exc
    arn = started.get("executionArn")
    if not isinstance(arn, str):
        raise _classified(name, "InvalidResponse", transient=True)
    return arn


def _classified(name: str, code: str, *, transient: bool) -> Exception:
    if transient:
        logger.warning("run execution not started: Step Functions unavailable", extra=_why(name, code))
        return OrchestratorUnavailable(code)
    logger.error("run execution not started: configuration error", extra=_why(name, code))
    return OrchestratorMisconfigured(code)


def _why(name: str, code: str) -> dict[str, str]:
    return {"execution": name, "aws_error": code, "state_machine": state_machine_arn()}

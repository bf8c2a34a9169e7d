"""Starts executions of the run state machine (Step Functions), and says what a failure means.

The boto3 client is built on first use and kept for the container: it costs tens of milliseconds
to build, and importing boto3 costs cold start that functions which never start a run should not
pay. botocore retries once (throttling and 5xx included). What still fails is classified:

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

import functools
import json
from typing import TYPE_CHECKING, Any

from auralink.errors import ConfigurationError
from auralink.observability import logger
from auralink.settings import get_settings
from auralink.snapstart import after_restore

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient

CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 10
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


@functools.cache
def _client() -> SFNClient:
    import boto3  # noqa: PLC0415  # only functions that start runs pay for boto3
    from botocore.config import Config  # noqa: PLC0415

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 2},
    )
    return boto3.client("stepfunctions", config=config)


@after_restore
def reset_clients() -> None:
    """Forget the client: tests and restored snapshots must see the current endpoint and credentials."""
    _client.cache_clear()


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
    from botocore import exceptions as aws  # noqa: PLC0415

    machine = state_machine_arn()
    try:
        trace = {"traceHeader": trace_header} if trace_header else {}
        started = _client().start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(payload), **trace
        )
    except aws.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        if code == ALREADY_STARTED:
            logger.info("run execution already started", extra={"execution": name})
            return execution_arn(machine, name)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        raise _classified(name, code, transient=status >= 500 or code in TRANSIENT_CODES) from exc
    except aws.BotoCoreError as exc:
        # Connection and read failures are the network's; the rest (no credentials, no region,
        # a parameter botocore refuses) are the deployment's.
        transient = isinstance(exc, aws.ConnectionError | aws.HTTPClientError)
        raise _classified(name, type(exc).__name__, transient=transient) from exc
    return started["executionArn"]


def _classified(name: str, code: str, *, transient: bool) -> Exception:
    if transient:
        logger.warning("run execution not started: Step Functions unavailable", extra=_why(name, code))
        return OrchestratorUnavailable(code)
    logger.error("run execution not started: configuration error", extra=_why(name, code))
    return OrchestratorMisconfigured(code)


def _why(name: str, code: str) -> dict[str, str]:
    return {"execution": name, "aws_error": code, "state_machine": state_machine_arn()}

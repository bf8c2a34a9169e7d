"""Starts executions of the run state machine (Step Functions).

The boto3 client is built on first use and kept for the container: it costs tens of milliseconds
to build, and importing boto3 costs cold start that functions which never start a run should not
pay. botocore retries once; a start that still fails is reported as `OrchestratorUnavailable`,
and the caller decides what happens to the run.
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


class OrchestratorUnavailable(Exception):
    """Step Functions could not be reached, or refused to start the execution."""


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


def start_execution(name: str, payload: dict[str, Any]) -> str:
    """Start an execution of the run state machine; returns its ARN."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    machine = state_machine_arn()
    try:
        started = _client().start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        logger.error("run execution not started", extra={"execution": name, "aws_error": code})
        raise OrchestratorUnavailable(code) from exc
    except BotoCoreError as exc:
        logger.error("run execution not started", extra={"execution": name, "aws_error": type(exc).__name__})
        raise OrchestratorUnavailable(type(exc).__name__) from exc
    return started["executionArn"]

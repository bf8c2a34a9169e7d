"""Workflow and team steps: a child run started through the runs API, waited for across steps.

The child is started with an idempotency key derived from the pipeline run and the task run, so
an attempt done again (in the next run step, or after a crash) finds the same child instead of
starting a second one. A child still running ends the attempt with `ChildRunning`: the flow stops,
the run step answers running, and the next step looks again, first without a task (`waiting`): a
task run for each look would show in Prefect as one more failed attempt. A child that succeeded
gives its output; one that failed or was cancelled fails the step with the child's error code.
"""

from __future__ import annotations

from typing import Any

from auralink.agents.pipelines.definition import (
    InnerStep,
    Step,
    TeamInner,
    TeamStep,
    WorkflowInner,
    WorkflowStep,
)
from auralink.agents.prefect.work import ChildRunning, RunContext, StepFailed
from auralink.agents.runs import control
from auralink.agents.runs import repository as runs
from auralink.agents.runs.api_models import ExecuteRequest
from auralink.agents.runs.models import RunStatus
from auralink.agents.teams import executions as teams
from auralink.agents.teams.models import ExecuteTeamRequest
from auralink.auth import Identity
from auralink.db import tenant_transaction
from auralink.errors import DomainError

_MAX_KEY = 255
_ENDED = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


def _idempotency_key(key: str) -> str:
    return f"pipeline:{key}"[:_MAX_KEY]


def waiting(ctx: RunContext, *, key: str) -> bool:
    """Whether the task ``key`` started its child run and the child has not ended yet."""
    with tenant_transaction(ctx.user_id) as conn:
        child = runs.find_by_idempotency_key(conn, _idempotency_key(key))
    return child is not None and RunStatus(child["status"]) not in _ENDED


def child_output(step: Step | InnerStep, inputs: dict[str, Any], ctx: RunContext, *, key: str) -> Any:
    identity = Identity(sub=ctx.user_id)
    idempotency_key = _idempotency_key(key)
    try:
        match step:
            case WorkflowStep() | WorkflowInner():
                request = ExecuteRequest(input=inputs["input"])
                accepted, _ = control.start_workflow_run(
                    identity, step.workflow_id, request, idempotency_key, parent_run_id=ctx.run_id
                )
            case TeamStep() | TeamInner():
                task = ExecuteTeamRequest(
                    task_description=inputs["task_description"],
                    additional_context=inputs["additional_context"],
                )
                accepted, _ = teams.start_team_run(
                    identity, step.team_id, task, idempotency_key, parent_run_id=ctx.run_id
                )
            case _:
                raise TypeError(f"a step of kind {step.kind!r} has no child run")
        child = control.get_run(identity, accepted.run_id)
    except DomainError as exc:
        # The child's target is gone, a quota refused it, its input is invalid: the step failed.
        raise StepFailed(exc.code, f"the {step.kind} run could not start: {exc.message}") from None
    if child.status == RunStatus.SUCCEEDED:
        return child.output
    if child.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        code = child.error.code if child.error is not None else "child_run_cancelled"
        raise StepFailed(code, f"the {step.kind} run {child.run_id} ended {child.status.value}")
    if child.status == RunStatus.WAITING_FOR_INPUT:
        raise ChildRunning(f"the {step.kind} run {child.run_id} waits for input")
    raise ChildRunning(f"the {step.kind} run {child.run_id} is {child.status.value}")

"""Advances runs one bounded step at a time; called by the run state machine's task.

The state machine loops while a step answers `running`. Each step resumes the run from what
Postgres holds, so a step that dies half-way is simply run again: a step stopped by the database
being unreachable raises `StepInterrupted`, which the state machine retries with backoff before
it gives up and marks the run failed.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import psycopg

from auralink.agents.runs import repository
from auralink.agents.runs.executors import Executor, KeepsRunState, executor_for
from auralink.agents.runs.models import Run, RunError, RunStatus, StepCommand, StepOutcome, StepReply
from auralink.db import tenant_transaction
from auralink.errors import ServiceUnavailable
from auralink.observability import MetricName, MetricUnit, emit_with_dimensions, logger, metrics
from auralink.settings import get_settings

# Time kept back from the function's remaining time to save progress and answer.
SAFETY_MARGIN_MS = 10_000


DATABASE_UNAVAILABLE = "database_unavailable"
# What a step stopped by the infrastructure names, by the code it was stopped with.
_UNAVAILABLE = {
    DATABASE_UNAVAILABLE: "the database was unavailable",
    "database_timeout": "the database did not answer in time",
    "prefect_unavailable": "the Prefect API was unavailable",
    "pipeline_results_unavailable": "the pipeline results storage was unavailable",
}


class StepInterrupted(Exception):  # the state machine retries this error by its name
    """The step could not finish for a failure of the infrastructure, not of the run."""


def advance(command: StepCommand, *, remaining_ms: int) -> StepReply:
    try:
        return _advance(command, remaining_ms=remaining_ms)
    except (ServiceUnavailable, psycopg.OperationalError) as exc:
        logger.warning(
            "run step interrupted", extra={"run_id": str(command.run_id), "error_type": type(exc).__name__}
        )
        code = exc.code if isinstance(exc, ServiceUnavailable) else DATABASE_UNAVAILABLE
        # The code leads the message: a run failed once the retries are spent is failed with it.
        raise StepInterrupted(
            f"{code}: a service the step needs is unavailable; the step will be retried"
        ) from None


def _advance(command: StepCommand, *, remaining_ms: int) -> StepReply:
    if command.action == "fail":
        return _fail_from_state_machine(command)
    with tenant_transaction(command.user_id) as conn:
        run, cancel_requested = repository.claim_for_step(conn, command.run_id)
    if run.status.is_terminal or run.status == RunStatus.WAITING_FOR_INPUT:
        # Finished, or waiting for an answer that a new execution will bring: nothing to do.
        return StepReply(run_id=run.run_id, status=run.status)
    if cancel_requested:
        return _finish(run, RunStatus.CANCELLED)
    # A run that needs more steps than this is looping; stop it rather than bill forever.
    max_steps = get_settings().run_max_steps
    if run.steps_done >= max_steps:
        error = RunError(code="step_limit_exceeded", message=f"The run needed more than {max_steps} steps")
        return _finish(run, RunStatus.FAILED, error)
    executor = executor_for(run.framework)
    if executor is None:
        error = RunError(code="unsupported_framework", message=f"No executor for framework {run.framework!r}")
        return _finish(run, RunStatus.FAILED, error)

    outcome = _run_step(executor, run, deadline_ms=max(remaining_ms - SAFETY_MARGIN_MS, 1_000))
    with tenant_transaction(run.user_id) as conn:
        status = repository.save_outcome(conn, run.run_id, outcome)
    metrics.add_metric(name=MetricName.RUN_STEPS, unit=MetricUnit.Count, value=1)
    if status.is_terminal:
        if isinstance(executor, KeepsRunState):
            _forget(executor, run)
        _record_final(run.run_id, run.user_id)
    logger.info("run step done", extra={"run_id": str(run.run_id), "status": status.value})
    return StepReply(run_id=run.run_id, status=status)


def _forget(executor: KeepsRunState, run: Run) -> None:
    try:
        executor.forget(run)
    except (ServiceUnavailable, psycopg.Error) as exc:
        # The run's end is recorded: what is left of its state is dead weight, not a failure.
        logger.warning(
            "run state not dropped", extra={"run_id": str(run.run_id), "error_type": type(exc).__name__}
        )


def _finish(run: Run, status: RunStatus, error: RunError | None = None) -> StepReply:
    with tenant_transaction(run.user_id) as conn:
        final = repository.finish(conn, run.run_id, status, error)
    _record_final(run.run_id, run.user_id)
    return StepReply(run_id=run.run_id, status=final)


def _record_final(run_id: UUID, user_id: str) -> None:
    """The per-run metrics, once a run has reached its final status."""
    try:
        with tenant_transaction(user_id) as conn:
            totals = repository.totals(conn, run_id)
    except (ServiceUnavailable, psycopg.Error):
        # The run's final state is saved already; a metric must not turn the step into a failure.
        logger.warning("run metrics not recorded", extra={"run_id": str(run_id)}, exc_info=True)
        return
    # The framework is one of the few the product has: a dimension no user can multiply.
    finished = [(MetricName.AGENT_EXECUTIONS, MetricUnit.Count, 1.0)]
    if totals.kind == "team":
        finished.append((MetricName.TEAM_CONVERSATIONS, MetricUnit.Count, 1.0))
    emit_with_dimensions(finished, {"framework": totals.framework})
    metrics.add_metric(name=MetricName.RUN_STEPS_PER_RUN, unit=MetricUnit.Count, value=totals.steps)
    metrics.add_metric(name=MetricName.RUN_COST, unit=MetricUnit.NoUnit, value=float(totals.cost_usd))
    if totals.duration_ms is not None:
        metrics.add_metric(
            name=MetricName.RUN_DURATION, unit=MetricUnit.Milliseconds, value=totals.duration_ms
        )


def _run_step(executor: Executor, run: Run, *, deadline_ms: int) -> StepOutcome:
    try:
        return executor.step(run, deadline_ms=deadline_ms)
    except (ServiceUnavailable, psycopg.OperationalError):
        raise  # the infrastructure's failure, not the run's: the step is retried
    except Exception:
        # The executor's own failure ends the run; its detail goes to the log, not to the user.
        logger.exception("run step raised", extra={"run_id": str(run.run_id), "framework": run.framework})
        return StepOutcome(
            status=RunStatus.FAILED,
            error=RunError(code="executor_error", message="The run failed while executing a step"),
        )


def _fail_from_state_machine(command: StepCommand) -> StepReply:
    # The state machine caught an error of the step task itself (crash, timeout): record it.
    raw = command.error or {}
    error_name = str(raw.get("Error", "States.TaskFailed"))[:128]
    logger.error("run step task failed", extra={"run_id": str(command.run_id), "error": error_name})
    code = _interruption_code(raw) if error_name == StepInterrupted.__name__ else None
    if code is not None:
        error = RunError(
            code=code, message=f"A step of the run was retried until it gave up: {_UNAVAILABLE[code]}"
        )
    else:
        error = RunError(code="step_failed", message=f"A step of the run failed ({error_name})")
    with tenant_transaction(command.user_id) as conn:
        status = repository.finish(conn, command.run_id, RunStatus.FAILED, error)
    _record_final(command.run_id, command.user_id)
    return StepReply(run_id=command.run_id, status=status)


def _interruption_code(raw: dict[str, Any]) -> str | None:
    """The code a `StepInterrupted` was raised with, from the state machine's error (its Cause is
    Lambda's JSON with the message); None when it names none of those known."""
    try:
        cause = json.loads(str(raw.get("Cause", "")))
    except ValueError:
        return None
    message = cause.get("errorMessage") if isinstance(cause, dict) else None
    code = str(message).partition(":")[0] if isinstance(message, str) else None
    return code if code in _UNAVAILABLE else None

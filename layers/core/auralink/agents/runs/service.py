"""Advances runs one bounded step at a time; called by the run state machine's task.

The state machine loops while a step answers `running`. Each step resumes the run from what
Postgres holds, so a step that dies half-way is simply run again.
"""

from __future__ import annotations

from auralink.agents.runs import repository
from auralink.agents.runs.executors import Executor, executor_for
from auralink.agents.runs.models import Run, RunError, RunStatus, StepCommand, StepOutcome, StepReply
from auralink.observability import MetricName, MetricUnit, logger, metrics

# A run that needs more steps than this is looping; stop it rather than bill forever.
MAX_STEPS = 500
# Time kept back from the function's remaining time to save progress and answer.
SAFETY_MARGIN_MS = 10_000


def advance(command: StepCommand, *, remaining_ms: int) -> StepReply:
    if command.action == "fail":
        return _fail_from_state_machine(command)
    run, cancel_requested = repository.claim_for_step(str(command.run_id), command.user_id)
    if run.status.is_terminal:
        return StepReply(run_id=run.run_id, status=run.status)
    if cancel_requested:
        status = repository.finish(run.run_id, run.user_id, RunStatus.CANCELLED)
        return StepReply(run_id=run.run_id, status=status)
    if run.steps_done >= MAX_STEPS:
        error = RunError(code="step_limit_exceeded", message=f"The run needed more than {MAX_STEPS} steps")
        return StepReply(
            run_id=run.run_id, status=repository.finish(run.run_id, run.user_id, RunStatus.FAILED, error)
        )
    executor = executor_for(run.framework)
    if executor is None:
        error = RunError(code="unsupported_framework", message=f"No executor for framework {run.framework!r}")
        return StepReply(
            run_id=run.run_id, status=repository.finish(run.run_id, run.user_id, RunStatus.FAILED, error)
        )

    outcome = _run_step(executor, run, deadline_ms=max(remaining_ms - SAFETY_MARGIN_MS, 1_000))
    status = repository.save_outcome(run.run_id, run.user_id, outcome)
    metrics.add_metric(name=MetricName.RUN_STEPS, unit=MetricUnit.Count, value=1)
    if status.is_terminal:
        metrics.add_metric(name=MetricName.AGENT_EXECUTIONS, unit=MetricUnit.Count, value=1)
    logger.info("run step done", extra={"run_id": run.run_id, "status": status.value})
    return StepReply(run_id=run.run_id, status=status)


def _run_step(executor: Executor, run: Run, *, deadline_ms: int) -> StepOutcome:
    try:
        return executor.step(run, deadline_ms=deadline_ms)
    except Exception:
        # The executor's own failure ends the run; its detail goes to the log, not to the user.
        logger.exception("run step raised", extra={"run_id": run.run_id, "framework": run.framework})
        return StepOutcome(
            status=RunStatus.FAILED,
            error=RunError(code="executor_error", message="The run failed while executing a step"),
        )


def _fail_from_state_machine(command: StepCommand) -> StepReply:
    # The state machine caught an error of the step task itself (crash, timeout): record it.
    raw = command.error or {}
    error_name = str(raw.get("Error", "States.TaskFailed"))[:128]
    run_id = str(command.run_id)
    logger.error("run step task failed", extra={"run_id": run_id, "error": error_name})
    error = RunError(code="step_failed", message=f"A step of the run failed ({error_name})")
    status = repository.finish(run_id, command.user_id, RunStatus.FAILED, error)
    return StepReply(run_id=run_id, status=status)

"""The sweeper: no run stays unstarted.

A run's row is committed before its execution starts (see `starts`). A function that dies in
between, or a start that Step Functions failed, leaves the run queued (or, after a resume, running)
with no execution recorded. On a schedule, the sweeper finds such runs of every user that have
waited longer than `START_GRACE_S` and starts them; a run that has waited longer than
`GIVE_UP_AFTER_S` is failed with `run_not_started` instead, since its caller has long stopped
waiting for it.

A start by the sweeper may race with a repeated request that starts the same run: both start
execution ``<run id>-<n>``, and Step Functions keeps one.
"""

from __future__ import annotations

import time

from auralink import aws_json
from auralink.agents.runs import orchestrator, repository, starts
from auralink.agents.runs.models import RunError
from auralink.agents.runs.repository import UnstartedRun
from auralink.db import system_transaction, tenant_transaction
from auralink.errors import ConfigurationError
from auralink.model import DeferredModel
from auralink.observability import MetricName, MetricUnit, logger, metrics

# Longer than any function that starts a run lives between recording it and starting it (the
# API functions' timeouts are under API Gateway's 29 s): a run this old has been abandoned.
START_GRACE_S = 120
GIVE_UP_AFTER_S = 3600
RUN_NOT_STARTED = "run_not_started"
# A sweep handles at most this many runs, oldest first; the next sweep takes the rest.
MAX_RUNS_PER_SWEEP = 100
# No start begins with less than this left of the invocation: the longest a start may take.
START_RESERVE_MS = aws_json.STEP_FUNCTIONS.longest_call_s * 1000


class SweepResult(DeferredModel):
    started: int = 0
    failed: int = 0
    # Left for the next sweep: Step Functions could not start runs now, or time ran out.
    deferred: int = 0


def sweep(*, remaining_ms: int) -> SweepResult:
    """Start the runs left unstarted past their grace period, or fail those too old to start.

    Raises `ConfigurationError` (after failing what is too old) when Step Functions refuses the
    starts for a reason no retry fixes, so that the invocation fails and its alarm goes off.
    """
    deadline = time.monotonic() + remaining_ms / 1000
    with system_transaction() as conn:
        unstarted = repository.unstarted_runs(conn, older_than_s=START_GRACE_S, limit=MAX_RUNS_PER_SWEEP)
    result = SweepResult()
    halted = False
    refusal: str | None = None
    for run in unstarted:
        if run.waiting_s >= GIVE_UP_AFTER_S:
            result.failed += _give_up(run)
        elif halted or (deadline - time.monotonic()) * 1000 < START_RESERVE_MS:
            result.deferred += 1
        else:
            try:
                starts.start(run.user_id, run.run_id, run.execution, run.framework)
            except orchestrator.OrchestratorUnavailable:
                # Busy or down: the next sweep tries again; hammering it now would not help.
                halted = True
                result.deferred += 1
                continue
            except orchestrator.OrchestratorMisconfigured as exc:
                halted, refusal = True, str(exc)
                result.deferred += 1
                continue
            result.started += 1
            logger.info(
                "unstarted run started", extra={"run_id": str(run.run_id), "execution": run.execution}
            )
    metrics.add_metric(name=MetricName.RUNS_STARTED_LATE, unit=MetricUnit.Count, value=result.started)
    metrics.add_metric(name=MetricName.RUNS_NOT_STARTED, unit=MetricUnit.Count, value=result.failed)
    logger.info("unstarted runs swept", extra=result.model_dump())
    if refusal is not None:
        raise ConfigurationError(f"the run state machine refused the sweeper's starts ({refusal})")
    return result


def _give_up(run: UnstartedRun) -> int:
    error = RunError(
        code=RUN_NOT_STARTED,
        message=f"The run could not be started within {GIVE_UP_AFTER_S // 60} minutes of being requested",
    )
    with tenant_transaction(run.user_id) as conn:
        failed = repository.fail_unstarted(
            conn, run.run_id, execution=run.execution, status=run.status, error=error
        )
    if failed:
        logger.warning("unstarted run failed", extra={"run_id": str(run.run_id), "waiting_s": run.waiting_s})
    return int(failed)

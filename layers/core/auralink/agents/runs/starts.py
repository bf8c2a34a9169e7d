"""Starting a run's execution: the one way the runs API and the sweeper start runs.

A run's row is committed first (queued, or running again after a resume, with the number of its
next execution), and the execution's ARN is recorded once Step Functions has it. A run without
that ARN is unstarted: whoever finds it so (a repeated request, the sweeper) starts the same
execution ``<run id>-<n>``, and Step Functions' rule of one execution per name makes the starts
that race end in one execution.

The execution's input names the run's framework (the state machine steps CrewAI's runs in a
function of their own) and carries the run's trace header: the state machine hands the input to
each step (`models.carried_trace`), so that every step of the run is in the trace of the request that
started it, whichever execution it belongs to.
"""

from __future__ import annotations

from uuid import UUID

from auralink.agents.runs import orchestrator, repository
from auralink.db import tenant_transaction


def start(user_id: str, run_id: UUID, execution: int, framework: str) -> str:
    """Start (or find started) execution ``execution`` of the run of ``framework`` and record it;
    its ARN.

    Raises `orchestrator.OrchestratorUnavailable` or `orchestrator.OrchestratorMisconfigured`,
    leaving the run as it was.
    """
    name = f"{run_id}-{execution}"
    with tenant_transaction(user_id) as conn:
        trace = repository.trace_header(conn, run_id)
    payload = {"run_id": str(run_id), "user_id": user_id, "framework": framework}
    if trace is not None:
        payload["trace"] = trace
    arn = orchestrator.start_execution(name, payload, trace_header=trace)
    with tenant_transaction(user_id) as conn:
        repository.record_started(conn, run_id, execution, arn)
    return arn

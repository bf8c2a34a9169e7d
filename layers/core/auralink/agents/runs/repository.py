"""SQL of runs (`workflow_executions`), always inside the owner's tenant transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from auralink.agents.runs.models import Run, RunError, RunStatus, StepOutcome
from auralink.db import tenant_transaction
from auralink.errors import NotFound

_RUN_COLUMNS = (
    "id::text AS run_id, user_id, framework, status, input, options, progress, steps_done, "
    "workflow_id::text AS workflow_id, started_at, cancel_requested, resume_input"
)


@dataclass(frozen=True)
class RunTotals:
    """What a finished run took: wall time from its first step, steps, and LLM cost."""

    duration_ms: int | None
    steps: int
    cost_usd: Decimal


def claim_for_step(run_id: str, user_id: str) -> tuple[Run, bool]:
    """Mark the run running (first step) and return it with its cancel flag."""
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM workflow_executions WHERE id = %s::uuid FOR UPDATE",  # noqa: S608
            (run_id,),
        ).fetchone()
        if row is None:
            raise NotFound("Run not found", code="run_not_found")
        if row["status"] == RunStatus.QUEUED:
            conn.execute(
                "UPDATE workflow_executions SET status = 'running', started_at = coalesce(started_at, now())"
                " WHERE id = %s::uuid",
                (run_id,),
            )
            row["status"] = RunStatus.RUNNING
    cancel_requested = bool(row.pop("cancel_requested"))
    # Stored as {"value": <answer>} so that an answer of JSON null is still an answer.
    stored_answer = row.pop("resume_input")
    row["has_resume_input"] = stored_answer is not None
    row["resume_input"] = None if stored_answer is None else stored_answer.get("value")
    return Run.model_validate(row), cancel_requested


def pinned_definition(run_id: str, user_id: str) -> dict[str, Any] | None:
    """The definition the run executes, once its first step has pinned one."""
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            "SELECT definition FROM workflow_executions WHERE id = %s::uuid", (run_id,)
        ).fetchone()
    return None if row is None else row["definition"]


def pin_definition(run_id: str, user_id: str, definition: dict[str, Any], version: int) -> None:
    """Copy the definition onto the run (the first pin stands; a step run again changes nothing)."""
    with tenant_transaction(user_id) as conn:
        conn.execute(
            "UPDATE workflow_executions SET definition = %s, workflow_version = %s"
            " WHERE id = %s::uuid AND definition IS NULL",
            (Jsonb(definition), version, run_id),
        )


def cancel_requested(run_id: str, user_id: str) -> bool:
    """Whether the run's owner asked to cancel it: executors check between nodes and stop early."""
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            "SELECT cancel_requested FROM workflow_executions WHERE id = %s::uuid", (run_id,)
        ).fetchone()
    if row is None:
        raise NotFound("Run not found", code="run_not_found")
    return bool(row["cancel_requested"])


def record_progress(
    run_id: str, user_id: str, progress: dict[str, Any], events: Sequence[dict[str, Any]] = ()
) -> bool:
    """Progress made inside a step, shown to clients before the step ends (merged into the run's
    progress; events appended); the status is left alone. Answers whether a cancel was asked."""
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            """
            UPDATE workflow_executions
               SET progress = progress || %(progress)s, events = events || %(events)s
             WHERE id = %(run_id)s::uuid AND status = 'running'
            RETURNING cancel_requested
            """,
            {"progress": Jsonb(progress), "events": Jsonb(list(events)), "run_id": run_id},
        ).fetchone()
    # Not running any more (cancelled while waiting, say): as good as a cancel for the executor.
    return True if row is None else bool(row["cancel_requested"])


def save_outcome(run_id: str, user_id: str, outcome: StepOutcome) -> RunStatus:
    """Persist one step; a cancel requested while the step ran wins over a non-final outcome."""
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            "SELECT status, cancel_requested FROM workflow_executions WHERE id = %s::uuid FOR UPDATE",
            (run_id,),
        ).fetchone()
        if row is None:
            raise NotFound("Run not found", code="run_not_found")
        if RunStatus(row["status"]).is_terminal:
            return RunStatus(row["status"])
        status = outcome.status
        if row["cancel_requested"] and not status.is_terminal:
            status = RunStatus.CANCELLED
        conn.execute(
            """
            UPDATE workflow_executions
               SET status = %(status)s,
                   progress = %(progress)s,
                   events = events || %(events)s,
                   steps_done = steps_done + 1,
                   resume_input = NULL,
                   output = coalesce(%(output)s, output),
                   error = %(error)s,
                   finished_at = CASE WHEN %(terminal)s THEN now() ELSE finished_at END
             WHERE id = %(run_id)s::uuid
            """,
            {
                "status": status.value,
                "progress": Jsonb(outcome.progress),
                "events": Jsonb(outcome.events),
                "output": None if outcome.output is None else Jsonb(outcome.output),
                "error": None if outcome.error is None else Jsonb(outcome.error.model_dump()),
                "terminal": status.is_terminal,
                "run_id": run_id,
            },
        )
    return status


def finish(run_id: str, user_id: str, status: RunStatus, error: RunError | None = None) -> RunStatus:
    """Close a run that is not closed yet; an already final status stands."""
    with tenant_transaction(user_id) as conn:
        row: dict[str, Any] | None = conn.execute(
            """
            UPDATE workflow_executions
               SET status = %(status)s, error = %(error)s, finished_at = now()
             WHERE id = %(run_id)s::uuid
               AND status NOT IN ('succeeded', 'failed', 'cancelled')
            RETURNING status
            """,
            {
                "status": status.value,
                "error": None if error is None else Jsonb(error.model_dump()),
                "run_id": run_id,
            },
        ).fetchone()
        if row is not None:
            return status
        current = conn.execute(
            "SELECT status FROM workflow_executions WHERE id = %s::uuid", (run_id,)
        ).fetchone()
    if current is None:
        raise NotFound("Run not found", code="run_not_found")
    return RunStatus(current["status"])


def totals(run_id: str, user_id: str) -> RunTotals:
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            """
            SELECT (extract(epoch FROM finished_at - started_at) * 1000)::bigint AS duration_ms,
                   steps_done,
                   (SELECT coalesce(sum(cost_usd), 0) FROM llm_performance_metrics m
                     WHERE m.run_id = r.id) AS cost_usd
              FROM workflow_executions r
             WHERE r.id = %s::uuid
            """,
            (run_id,),
        ).fetchone()
    if row is None:
        raise NotFound("Run not found", code="run_not_found")
    return RunTotals(duration_ms=row["duration_ms"], steps=row["steps_done"], cost_usd=row["cost_usd"])

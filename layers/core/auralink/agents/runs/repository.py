"""SQL of runs (`workflow_executions`): the runs API, the run step and the sweeper.

Every function works in the transaction its caller opened (``tenant_transaction`` of the run's
owner, except where it says otherwise) and names runs and workflows by UUID. Row-level security
shows each caller only their own runs, so another user's run is simply not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from auralink.agents.runs.models import Progress, Run, RunError, RunStatus, StepOutcome
from auralink.db import Connection
from auralink.errors import NotFound
from auralink.paging import decode_cursor, split_page

_VIEW_COLUMNS = """
    id, user_id, kind, workflow_id, team_id, pipeline_id, framework, status, cancel_requested, input,
    options, progress, steps_done, events, output, error, idempotency_key, executions, execution_arn,
    resume_input, created_at, started_at, finished_at
"""
_STEP_COLUMNS = (
    "id AS run_id, user_id, kind, framework, status, input, options, progress, steps_done,"
    " workflow_id, team_id, pipeline_id, started_at, cancel_requested, resume_input"
)


def not_found() -> NotFound:
    return NotFound("Run not found", code="run_not_found")


@dataclass(frozen=True)
class RunTotals:
    """What a finished run took: wall time from its first step, steps, and LLM cost."""

    duration_ms: int | None
    steps: int
    cost_usd: Decimal
    kind: str
    framework: str


@dataclass(frozen=True)
class UnstartedRun:
    """A run whose current execution was never recorded as started, and for how long."""

    run_id: UUID
    user_id: str
    status: RunStatus
    execution: int
    waiting_s: float
    framework: str


def is_unstarted(row: dict[str, Any]) -> bool:
    """Whether a run's current execution was never recorded as started (the function starting
    it died or could not reach Step Functions): what ``unstarted_runs`` looks for."""
    return (
        row["status"] in (RunStatus.QUEUED, RunStatus.RUNNING)
        and row["execution_arn"] is None
        and row["executions"] >= 1
    )


# ----------------------------------------------------------------------------- the runs API


def workflow_exists(conn: Connection, workflow_id: UUID) -> bool:
    row = conn.execute("SELECT 1 FROM agent_workflows WHERE id = %s", (workflow_id,)).fetchone()
    return row is not None


def find_by_idempotency_key(conn: Connection, key: str) -> dict[str, Any] | None:
    return conn.execute(
        f"SELECT {_VIEW_COLUMNS} FROM workflow_executions WHERE idempotency_key = %s",  # noqa: S608
        (key,),
    ).fetchone()


def insert_run(
    conn: Connection,
    *,
    user_id: str,
    framework: str,
    run_input: dict[str, Any],
    options: dict[str, Any],
    idempotency_key: str | None,
    workflow_id: UUID | None = None,
    team_id: UUID | None = None,
    pipeline_id: UUID | None = None,
    definition: dict[str, Any] | None = None,
    parent_run_id: UUID | None = None,
    trace_header: str | None = None,
) -> UUID | None:
    """The new run's id (its first execution counted); None when the idempotency key is taken.

    A run of a team (``team_id``) or of a pipeline (``pipeline_id``) is pinned to ``definition``
    from the start; a workflow run pins its definition at its first step."""
    kind = "team" if team_id is not None else "pipeline" if pipeline_id is not None else "workflow"
    row = conn.execute(
        """
        INSERT INTO workflow_executions
            (user_id, kind, workflow_id, team_id, pipeline_id, definition, framework, input, options,
             idempotency_key, parent_run_id, trace_header, executions)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1)
        ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id
        """,
        (
            user_id,
            kind,
            workflow_id,
            team_id,
            pipeline_id,
            None if definition is None else Jsonb(definition),
            framework,
            Jsonb(run_input),
            Jsonb(options),
            idempotency_key,
            parent_run_id,
            trace_header,
        ),
    ).fetchone()
    return None if row is None else UUID(str(row["id"]))


def trace_header(conn: Connection, run_id: UUID) -> str | None:
    """The trace header of the request that started the run (`auralink.tracing`)."""
    row = conn.execute("SELECT trace_header FROM workflow_executions WHERE id = %s", (run_id,)).fetchone()
    return None if row is None else row["trace_header"]


def record_started(conn: Connection, run_id: UUID, execution: int, execution_arn: str) -> None:
    """Record that execution ``execution`` of the run has started (a later one's ARN stands)."""
    conn.execute(
        "UPDATE workflow_executions SET execution_arn = %s WHERE id = %s AND executions = %s",
        (execution_arn, run_id, execution),
    )


def fail_unstarted(
    conn: Connection, run_id: UUID, *, execution: int, status: RunStatus, error: RunError
) -> bool:
    """Fail a run whose execution ``execution`` never started, if it is still as it was seen
    (``status``, no execution recorded); whether it was failed."""
    row = conn.execute(
        """
        UPDATE workflow_executions
           SET status = 'failed', error = %(error)s, finished_at = now()
         WHERE id = %(run_id)s AND status = %(status)s AND executions = %(execution)s
           AND execution_arn IS NULL
        RETURNING id
        """,
        {
            "error": Jsonb(error.model_dump()),
            "run_id": run_id,
            "status": status.value,
            "execution": execution,
        },
    ).fetchone()
    return row is not None


def get(conn: Connection, run_id: UUID, *, for_update: bool = False) -> dict[str, Any]:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(
        f"SELECT {_VIEW_COLUMNS} FROM workflow_executions WHERE id = %s{lock}",  # noqa: S608
        (run_id,),
    ).fetchone()
    if row is None:
        raise not_found()
    return row


def usage(conn: Connection, run_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        """
        SELECT count(*) AS llm_calls,
               coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
               coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
               coalesce(sum(cost_usd), 0) AS cost_usd
          FROM llm_performance_metrics
         WHERE run_id = %(run_id)s
            OR run_id IN (SELECT id FROM workflow_executions WHERE parent_run_id = %(run_id)s)
        """,
        {"run_id": run_id},
    ).fetchone()
    assert row is not None  # an aggregate always answers one row
    return row


def page(
    conn: Connection,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    workflow_id: UUID | None,
    pipeline_id: UUID | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, optionally of one status, one workflow or one pipeline."""
    after_at: datetime | None
    after_id: UUID | None
    after_at, after_id = decode_cursor(cursor) if cursor is not None else (None, None)
    rows = conn.execute(
        """
        SELECT id, kind, workflow_id, team_id, pipeline_id, framework, status, steps_done, error, created_at,
               started_at, finished_at
          FROM workflow_executions
         WHERE (%(status)s::text IS NULL OR status = %(status)s)
           AND (%(workflow_id)s::uuid IS NULL OR workflow_id = %(workflow_id)s)
           AND (%(pipeline_id)s::uuid IS NULL OR pipeline_id = %(pipeline_id)s)
           AND (%(after_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_at)s, %(after_id)s::uuid))
         ORDER BY created_at DESC, id DESC
         LIMIT %(limit)s
        """,
        {
            "status": status,
            "workflow_id": workflow_id,
            "pipeline_id": pipeline_id,
            "after_at": after_at,
            "after_id": after_id,
            "limit": limit + 1,
        },
    ).fetchall()
    return split_page(rows, limit)


def answer_used(conn: Connection, run_id: UUID) -> None:
    """The answer the run resumed with has been taken, and what took it is saved: a retry of the
    step that took it must not give it again (to the next question, or to the team twice)."""
    conn.execute("UPDATE workflow_executions SET resume_input = NULL WHERE id = %s", (run_id,))


def mark_resumed(conn: Connection, run_id: UUID, answer: Any) -> int:
    """Store the answer and set the run running again; returns the number of its next execution,
    which is not started until its ARN is recorded."""
    row = conn.execute(
        """
        UPDATE workflow_executions
           SET status = 'running', resume_input = %s, executions = executions + 1, execution_arn = NULL
         WHERE id = %s
        RETURNING executions
        """,
        (Jsonb({"value": answer}), run_id),
    ).fetchone()
    if row is None:
        raise not_found()
    return int(row["executions"])


def cancel_now(conn: Connection, run_id: UUID) -> None:
    conn.execute(
        """
        UPDATE workflow_executions
           SET status = 'cancelled', cancel_requested = true, resume_input = NULL, finished_at = now()
         WHERE id = %s
        """,
        (run_id,),
    )


def request_cancel(conn: Connection, run_id: UUID) -> None:
    conn.execute("UPDATE workflow_executions SET cancel_requested = true WHERE id = %s", (run_id,))


# ------------------------------------------------------------------------------- the run step


def claim_for_step(conn: Connection, run_id: UUID) -> tuple[Run, bool]:
    """Mark the run running (first step) and return it with its cancel flag."""
    row = conn.execute(
        f"SELECT {_STEP_COLUMNS} FROM workflow_executions WHERE id = %s FOR UPDATE",  # noqa: S608
        (run_id,),
    ).fetchone()
    if row is None:
        raise not_found()
    if row["status"] == RunStatus.QUEUED:
        conn.execute(
            "UPDATE workflow_executions SET status = 'running', started_at = coalesce(started_at, now())"
            " WHERE id = %s",
            (run_id,),
        )
        row["status"] = RunStatus.RUNNING
    cancel_requested = bool(row.pop("cancel_requested"))
    # Stored as {"value": <answer>} so that an answer of JSON null is still an answer.
    stored_answer = row.pop("resume_input")
    row["has_resume_input"] = stored_answer is not None
    row["resume_input"] = None if stored_answer is None else stored_answer.get("value")
    return Run.model_validate(row), cancel_requested


def pinned_definition(conn: Connection, run_id: UUID) -> dict[str, Any] | None:
    """The definition the run executes, once its first step has pinned one."""
    row = conn.execute("SELECT definition FROM workflow_executions WHERE id = %s", (run_id,)).fetchone()
    return None if row is None else row["definition"]


def pin_definition(conn: Connection, run_id: UUID, definition: dict[str, Any], version: int) -> None:
    """Copy the definition onto the run (the first pin stands; a step run again changes nothing)."""
    conn.execute(
        "UPDATE workflow_executions SET definition = %s, workflow_version = %s"
        " WHERE id = %s AND definition IS NULL",
        (Jsonb(definition), version, run_id),
    )


def cancel_requested(conn: Connection, run_id: UUID) -> bool:
    """Whether the run's owner asked to cancel it: executors check between nodes and stop early."""
    row = conn.execute("SELECT cancel_requested FROM workflow_executions WHERE id = %s", (run_id,)).fetchone()
    if row is None:
        raise not_found()
    return bool(row["cancel_requested"])


def record_progress(
    conn: Connection, run_id: UUID, progress: Progress, events: Sequence[dict[str, Any]] = ()
) -> bool:
    """Progress made inside a step, shown to clients before the step ends (the fields set in
    ``progress`` replace the run's; events appended); the status is left alone. Answers whether
    a cancel was asked."""
    row = conn.execute(
        """
        UPDATE workflow_executions
           SET progress = progress || %(progress)s, events = events || %(events)s
         WHERE id = %(run_id)s AND status = 'running'
        RETURNING cancel_requested
        """,
        {
            "progress": Jsonb(progress.model_dump(mode="json", exclude_unset=True)),
            "events": Jsonb(list(events)),
            "run_id": run_id,
        },
    ).fetchone()
    # Not running any more (cancelled while waiting, say): as good as a cancel for the executor.
    return True if row is None else bool(row["cancel_requested"])


def save_outcome(conn: Connection, run_id: UUID, outcome: StepOutcome) -> RunStatus:
    """Persist one step; a cancel requested while the step ran wins over a non-final outcome."""
    row = conn.execute(
        "SELECT status, cancel_requested FROM workflow_executions WHERE id = %s FOR UPDATE", (run_id,)
    ).fetchone()
    if row is None:
        raise not_found()
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
         WHERE id = %(run_id)s
        """,
        {
            "status": status.value,
            "progress": Jsonb(outcome.progress.model_dump(mode="json", exclude_unset=True)),
            "events": Jsonb(outcome.events),
            "output": None if outcome.output is None else Jsonb(outcome.output),
            "error": None if outcome.error is None else Jsonb(outcome.error.model_dump()),
            "terminal": status.is_terminal,
            "run_id": run_id,
        },
    )
    return status


def finish(conn: Connection, run_id: UUID, status: RunStatus, error: RunError | None = None) -> RunStatus:
    """Close a run that is not closed yet; an already final status stands."""
    row = conn.execute(
        """
        UPDATE workflow_executions
           SET status = %(status)s, error = %(error)s, finished_at = now()
         WHERE id = %(run_id)s
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
    current = conn.execute("SELECT status FROM workflow_executions WHERE id = %s", (run_id,)).fetchone()
    if current is None:
        raise not_found()
    return RunStatus(current["status"])


def totals(conn: Connection, run_id: UUID) -> RunTotals:
    row = conn.execute(
        """
        SELECT (extract(epoch FROM finished_at - started_at) * 1000)::bigint AS duration_ms,
               steps_done, kind, framework,
               (SELECT coalesce(sum(cost_usd), 0) FROM llm_performance_metrics m
                 WHERE m.run_id = r.id
                    OR m.run_id IN (SELECT id FROM workflow_executions c WHERE c.parent_run_id = r.id))
                 AS cost_usd
          FROM workflow_executions r
         WHERE r.id = %s
        """,
        (run_id,),
    ).fetchone()
    if row is None:
        raise not_found()
    return RunTotals(
        duration_ms=row["duration_ms"],
        steps=row["steps_done"],
        cost_usd=row["cost_usd"],
        kind=row["kind"],
        framework=row["framework"],
    )


# --------------------------------------------------------------------------------- the sweeper


def unstarted_runs(conn: Connection, *, older_than_s: int, limit: int) -> list[UnstartedRun]:
    """Runs of every user left unstarted for longer than ``older_than_s``, oldest first.

    In a transaction with no caller (``system_transaction``): the database function that finds
    them crosses users and answers only what starting or failing one needs.
    """
    rows = conn.execute(
        "SELECT run_id, user_id, status, execution, waiting_s, framework"
        " FROM unstarted_runs(make_interval(secs => %s), %s)",
        (older_than_s, limit),
    ).fetchall()
    return [
        UnstartedRun(
            run_id=row["run_id"],
            user_id=row["user_id"],
            status=RunStatus(row["status"]),
            execution=row["execution"],
            waiting_s=float(row["waiting_s"]),
            framework=row["framework"],
        )
        for row in rows
    ]

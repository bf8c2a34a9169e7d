"""SQL of the runs API: start, read, list, resume and cancel runs, in the caller's transaction.

Row-level security shows each caller only their own runs and workflows, so another user's run
is simply not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from auralink.db import Connection
from auralink.errors import NotFound
from auralink.paging import decode_cursor, encode_cursor

_VIEW_COLUMNS = """
    id, user_id, workflow_id, framework, status, cancel_requested, input, options, progress,
    steps_done, events, output, error, idempotency_key, executions, created_at, started_at, finished_at
"""


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
    workflow_id: UUID,
    framework: str,
    run_input: dict[str, Any],
    options: dict[str, Any],
    idempotency_key: str | None,
) -> UUID | None:
    """The new run's id (its first execution counted); None when the idempotency key is taken."""
    row = conn.execute(
        """
        INSERT INTO workflow_executions
            (user_id, workflow_id, framework, input, options, idempotency_key, executions)
        VALUES (%s, %s, %s, %s, %s, %s, 1)
        ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id
        """,
        (user_id, workflow_id, framework, Jsonb(run_input), Jsonb(options), idempotency_key),
    ).fetchone()
    return None if row is None else UUID(str(row["id"]))


def set_execution_arn(conn: Connection, run_id: UUID, execution_arn: str) -> None:
    conn.execute("UPDATE workflow_executions SET execution_arn = %s WHERE id = %s", (execution_arn, run_id))


def get(conn: Connection, run_id: UUID, *, for_update: bool = False) -> dict[str, Any]:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(
        f"SELECT {_VIEW_COLUMNS} FROM workflow_executions WHERE id = %s{lock}",  # noqa: S608
        (run_id,),
    ).fetchone()
    if row is None:
        raise NotFound("Run not found", code="run_not_found")
    return row


def usage(conn: Connection, run_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        """
        SELECT count(*) AS llm_calls,
               coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
               coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
               coalesce(sum(cost_usd), 0) AS cost_usd
          FROM llm_performance_metrics
         WHERE run_id = %s
        """,
        (run_id,),
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
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, optionally of one status or one workflow."""
    after_at: datetime | None
    after_id: UUID | None
    after_at, after_id = decode_cursor(cursor) if cursor is not None else (None, None)
    rows = conn.execute(
        """
        SELECT id, workflow_id, framework, status, steps_done, error, created_at, started_at, finished_at
          FROM workflow_executions
         WHERE (%(status)s::text IS NULL OR status = %(status)s)
           AND (%(workflow_id)s::uuid IS NULL OR workflow_id = %(workflow_id)s)
           AND (%(after_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_at)s, %(after_id)s::uuid))
         ORDER BY created_at DESC, id DESC
         LIMIT %(limit)s
        """,
        {
            "status": status,
            "workflow_id": workflow_id,
            "after_at": after_at,
            "after_id": after_id,
            "limit": limit + 1,
        },
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return rows, next_cursor


def mark_resumed(conn: Connection, run_id: UUID, answer: Any) -> int:
    """Store the answer and set the run running again; returns the number of its next execution."""
    row = conn.execute(
        """
        UPDATE workflow_executions
           SET status = 'running', resume_input = %s, executions = executions + 1
         WHERE id = %s
        RETURNING executions
        """,
        (Jsonb({"value": answer}), run_id),
    ).fetchone()
    if row is None:
        raise NotFound("Run not found", code="run_not_found")
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

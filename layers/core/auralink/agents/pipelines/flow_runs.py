"""SQL of pipeline runs' Prefect flow runs (`prefect_flow_runs`), inside the caller's transaction.

One row per pipeline run: the Prefect flow run's id and state, where Prefect's UI shows it, and
its task runs as the run step last saw them, so that reading a run never calls Prefect.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from auralink.db import Connection


def insert(
    conn: Connection, *, user_id: str, pipeline_id: UUID, run_id: UUID, parameters: dict[str, Any]
) -> None:
    conn.execute(
        "INSERT INTO prefect_flow_runs (user_id, flow_id, run_id, parameters) VALUES (%s, %s, %s, %s)",
        (user_id, pipeline_id, run_id, Jsonb(parameters)),
    )


def for_run(conn: Connection, run_id: UUID) -> dict[str, Any] | None:
    return conn.execute(
        "SELECT prefect_run_id, state, ui_url, task_runs, started_at, finished_at"
        " FROM prefect_flow_runs WHERE run_id = %s",
        (run_id,),
    ).fetchone()


def record_flow_run(conn: Connection, run_id: UUID, *, prefect_run_id: UUID, ui_url: str) -> None:
    """The Prefect flow run the pipeline run executes in (the first one recorded stands)."""
    conn.execute(
        "UPDATE prefect_flow_runs SET prefect_run_id = %s, ui_url = %s,"
        " started_at = coalesce(started_at, now()) WHERE run_id = %s AND prefect_run_id IS NULL",
        (str(prefect_run_id), ui_url, run_id),
    )


def record_state(
    conn: Connection,
    run_id: UUID,
    *,
    state: str,
    task_runs: list[dict[str, Any]],
    result: Any = None,
    final: bool = False,
) -> None:
    conn.execute(
        """
        UPDATE prefect_flow_runs
           SET state = %(state)s, task_runs = %(task_runs)s, result = coalesce(%(result)s, result),
               finished_at = CASE WHEN %(final)s THEN now() ELSE finished_at END
         WHERE run_id = %(run_id)s
        """,
        {
            "state": state,
            "task_runs": Jsonb(task_runs),
            "result": None if result is None else Jsonb(result),
            "final": final,
            "run_id": run_id,
        },
    )

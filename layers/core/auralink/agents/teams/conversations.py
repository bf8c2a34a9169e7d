"""SQL of team conversations (one per team run) and their messages.

Every function works in the transaction its caller opened, as the run's owner: row-level security
shows each user only their own conversations and messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from auralink.agents.runs import repository as runs
from auralink.agents.runs.repository import not_found as run_not_found
from auralink.db import Connection
from auralink.paging import decode_cursor, split_page


@dataclass(frozen=True)
class Conversation:
    """Where a team run stands after its last finished turn."""

    task: str
    context: dict[str, Any]
    state: dict[str, Any] | None
    turns: int
    message_count: int
    active_ms: int
    # {"target": <member>, "answer": <text>}: what the next turn starts with.
    pending_answer: dict[str, Any] | None = None
    # How the last saved turn ended the step, if it did: {"waiting": {...}} or {"stop": <reason>}.
    turn_ending: dict[str, Any] | None = None
    # Why the conversation ended; None while it goes on.
    stop_reason: str | None = None


def insert(
    conn: Connection, *, user_id: str, team_id: UUID, run_id: UUID, task: str, context: dict[str, Any]
) -> None:
    conn.execute(
        "INSERT INTO team_conversations (user_id, team_id, run_id, task, context)"
        " VALUES (%s, %s, %s, %s, %s)",
        (user_id, team_id, run_id, task, Jsonb(context)),
    )


def get(conn: Connection, run_id: UUID) -> Conversation:
    row = conn.execute(
        "SELECT task, context, state, turns, message_count, active_ms, pending_answer, turn_ending,"
        " stop_reason FROM team_conversations WHERE run_id = %s",
        (run_id,),
    ).fetchone()
    if row is None:
        raise run_not_found()
    return Conversation(**row)


def withdraw_unfinished(conn: Connection, run_id: UUID, turns: int) -> int:
    """Delete the messages of a turn that a dead step left unfinished; how many there were."""
    deleted = conn.execute("DELETE FROM team_messages WHERE run_id = %s AND turn > %s", (run_id, turns))
    return deleted.rowcount


def append_message(
    conn: Connection,
    *,
    user_id: str,
    run_id: UUID,
    turn: int,
    source: str,
    kind: str,
    content: Any,
    usage: dict[str, int] | None,
) -> int:
    """Store a message under the next sequence number of the run (never one used before)."""
    row = conn.execute(
        "UPDATE team_conversations SET last_seq = last_seq + 1 WHERE run_id = %s RETURNING last_seq",
        (run_id,),
    ).fetchone()
    if row is None:
        raise run_not_found()
    seq = int(row["last_seq"])
    conn.execute(
        "INSERT INTO team_messages (user_id, run_id, seq, turn, source, type, content, usage)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (user_id, run_id, seq, turn, source, kind, Jsonb(content), None if usage is None else Jsonb(usage)),
    )
    return seq


def set_pending_answer(conn: Connection, run_id: UUID, pending: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE team_conversations SET pending_answer = %s WHERE run_id = %s", (Jsonb(pending), run_id)
    )


def save_turn(
    conn: Connection,
    run_id: UUID,
    *,
    state: dict[str, Any],
    turns: int,
    message_count: int,
    active_ms: int,
    ending: dict[str, Any] | None = None,
    answered: bool = False,
) -> None:
    """The turn is done: its state and counters replace the last turn's. When it started with a
    person's answer (``answered``), that answer is used up, the run's own copy too: a step that
    dies after this, before the run records its outcome, is done again without it, so it is never
    given twice."""
    conn.execute(
        "UPDATE team_conversations SET state = %s, turns = %s, message_count = %s, active_ms = %s,"
        " pending_answer = NULL, turn_ending = %s WHERE run_id = %s",
        (Jsonb(state), turns, message_count, active_ms, None if ending is None else Jsonb(ending), run_id),
    )
    if answered:
        runs.answer_used(conn, run_id)


def last_member_message(conn: Connection, run_id: UUID, *, exclude: tuple[str, ...]) -> dict[str, Any] | None:
    """The source and content of the run's last text or handoff not written by ``exclude``."""
    return conn.execute(
        "SELECT source, content FROM team_messages WHERE run_id = %s AND type IN ('text', 'handoff')"
        " AND source <> ALL(%s) ORDER BY seq DESC LIMIT 1",
        (run_id, list(exclude)),
    ).fetchone()


def finish(conn: Connection, run_id: UUID, stop_reason: str) -> bool:
    """Record why the conversation ended, once: False when it had ended already (a step that
    died after ending it, before the run recorded its outcome, ends it again). The saved state
    stays until the run's end is recorded (`drop_state`): that step's retry builds the run's
    output from it."""
    ended = conn.execute(
        "UPDATE team_conversations SET stop_reason = %s WHERE run_id = %s AND stop_reason IS NULL",
        (stop_reason, run_id),
    )
    return ended.rowcount == 1


def drop_state(conn: Connection, run_id: UUID) -> None:
    """The run's end is recorded: its saved state is no longer needed."""
    conn.execute("UPDATE team_conversations SET state = NULL WHERE run_id = %s", (run_id,))


def run_cost_usd(conn: Connection, run_id: UUID) -> float:
    row = conn.execute(
        "SELECT coalesce(sum(cost_usd), 0) AS cost FROM llm_performance_metrics WHERE run_id = %s",
        (run_id,),
    ).fetchone()
    assert row is not None  # an aggregate always answers one row
    return float(row["cost"])


def messages_after(conn: Connection, run_id: UUID, *, after: int, limit: int) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT seq, source, type, content, usage, created_at FROM team_messages"
        " WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT %s",
        (run_id, after, limit),
    ).fetchall()


def page(
    conn: Connection, team_id: UUID, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The team's conversations, newest first, with their run's status, times and cost."""
    after_at: datetime | None
    after_id: UUID | None
    after_at, after_id = decode_cursor(cursor) if cursor is not None else (None, None)
    rows = conn.execute(
        """
        SELECT c.id, c.run_id, c.task, c.message_count, c.stop_reason, c.created_at,
               r.status, r.started_at, r.finished_at,
               (SELECT coalesce(sum(m.cost_usd), 0) FROM llm_performance_metrics m
                 WHERE m.run_id = c.run_id) AS cost_usd
          FROM team_conversations c
          LEFT JOIN workflow_executions r ON r.id = c.run_id
         WHERE c.team_id = %(team_id)s
           AND (%(after_at)s::timestamptz IS NULL
                OR (c.created_at, c.id) < (%(after_at)s, %(after_id)s::uuid))
         ORDER BY c.created_at DESC, c.id DESC
         LIMIT %(limit)s
        """,
        {"team_id": team_id, "after_at": after_at, "after_id": after_id, "limit": limit + 1},
    ).fetchall()
    return split_page(rows, limit)

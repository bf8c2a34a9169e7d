"""SQL of workflows (`agent_workflows`), inside the caller's tenant transaction.

Row-level security shows each caller only their own rows: another user's workflow is simply not
found, which is what the API answers (404), on purpose indistinguishable from a missing one.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from auralink.db import Connection
from auralink.errors import Conflict, NotFound
from auralink.paging import newest_first

_SUMMARY = "id, name, description, version, created_at, updated_at"
_FULL = _SUMMARY + ", definition"


def _not_found() -> NotFound:
    return NotFound("Workflow not found", code="workflow_not_found")


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A workflow named {name!r} exists already", code="workflow_name_taken")


def insert(
    conn: Connection, *, user_id: str, name: str, description: str, definition: dict[str, Any]
) -> dict[str, Any]:
    try:
        row = conn.execute(
            f"""
            INSERT INTO agent_workflows (user_id, name, description, definition)
            VALUES (%s, %s, %s, %s)
            RETURNING {_FULL}
            """,  # noqa: S608  (column list is a constant)
            (user_id, name, description, Jsonb(definition)),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _name_taken(name) from None
    assert row is not None  # RETURNING of an INSERT
    return row


def replace(
    conn: Connection, workflow_id: UUID, *, name: str, description: str, definition: dict[str, Any]
) -> dict[str, Any]:
    try:
        row = conn.execute(
            f"""
            UPDATE agent_workflows
               SET name = %s, description = %s, definition = %s, version = version + 1
             WHERE id = %s
            RETURNING {_FULL}
            """,  # noqa: S608  (column list is a constant)
            (name, description, Jsonb(definition), workflow_id),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _name_taken(name) from None
    if row is None:
        raise _not_found()
    return row


def get(conn: Connection, workflow_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {_FULL} FROM agent_workflows WHERE id = %s",  # noqa: S608  (constant columns)
        (workflow_id,),
    ).fetchone()
    if row is None:
        raise _not_found()
    return row


def delete(conn: Connection, workflow_id: UUID) -> None:
    if conn.execute("DELETE FROM agent_workflows WHERE id = %s", (workflow_id,)).rowcount == 0:
        raise _not_found()


def page(conn: Connection, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the cursor is the last row of the previous page."""
    return newest_first(
        conn,
        f"""
        SELECT {_SUMMARY}
          FROM agent_workflows
        """,  # noqa: S608  (column list is a constant)
        limit=limit,
        cursor=cursor,
    )

"""SQL of pipelines (`prefect_flows`), inside the caller's tenant transaction.

Row-level security shows each caller only their own rows: another user's pipeline is simply not
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
_FULL = _SUMMARY + ", parameters_schema, definition"


def not_found() -> NotFound:
    return NotFound("Pipeline not found", code="pipeline_not_found")


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A pipeline named {name!r} exists already", code="pipeline_name_taken")


def _json(value: dict[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def insert(
    conn: Connection,
    *,
    user_id: str,
    name: str,
    description: str,
    parameters_schema: dict[str, Any] | None,
    definition: dict[str, Any],
) -> dict[str, Any]:
    try:
        row = conn.execute(
            f"""
            INSERT INTO prefect_flows (user_id, name, description, parameters_schema, definition)
            VALUES (%s, %s, %s, %s, %s)
            RETURNING {_FULL}
            """,  # noqa: S608  (column list is a constant)
            (user_id, name, description, _json(parameters_schema), Jsonb(definition)),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _name_taken(name) from None
    assert row is not None  # RETURNING of an INSERT
    return row


def replace(
    conn: Connection,
    pipeline_id: UUID,
    *,
    name: str,
    description: str,
    parameters_schema: dict[str, Any] | None,
    definition: dict[str, Any],
) -> dict[str, Any]:
    try:
        row = conn.execute(
            f"""
            UPDATE prefect_flows
               SET name = %s, description = %s, parameters_schema = %s, definition = %s,
                   version = version + 1
             WHERE id = %s
            RETURNING {_FULL}
            """,  # noqa: S608  (column list is a constant)
            (name, description, _json(parameters_schema), Jsonb(definition), pipeline_id),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _name_taken(name) from None
    if row is None:
        raise not_found()
    return row


def get(conn: Connection, pipeline_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {_FULL} FROM prefect_flows WHERE id = %s",  # noqa: S608  (constant columns)
        (pipeline_id,),
    ).fetchone()
    if row is None:
        raise not_found()
    return row


def delete(conn: Connection, pipeline_id: UUID) -> None:
    if conn.execute("DELETE FROM prefect_flows WHERE id = %s", (pipeline_id,)).rowcount == 0:
        raise not_found()


def page(conn: Connection, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the cursor is the last row of the previous page."""
    return newest_first(
        conn,
        f"""
        SELECT {_SUMMARY}
          FROM prefect_flows
        """,  # noqa: S608  (column list is a constant)
        limit=limit,
        cursor=cursor,
    )

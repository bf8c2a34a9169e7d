"""SQL of teams (`agent_teams`) and their members (`team_members`), inside the caller's tenant
transaction.

Row-level security shows each caller only their own rows: another user's team is simply not
found (404), on purpose indistinguishable from a missing one. A team's mode, termination, tasks,
edges and manager model live in `agent_teams.config`; its members are rows in `position` order.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from auralink.db import Connection
from auralink.errors import Conflict, NotFound
from auralink.paging import newest_first

_TEAM = "id, name, description, framework, config, created_at, updated_at"
_MEMBER = "name, role, goal, backstory, model, tools, position, description, system_message, handoffs, extra"


def team_not_found() -> NotFound:
    return NotFound("Team not found", code="team_not_found")


def member_not_found(name: str) -> NotFound:
    return NotFound(f"The team has no member named {name!r}", code="team_member_not_found")


def _name_taken(name: str) -> Conflict:
    return Conflict(f"A team named {name!r} exists already", code="team_name_taken")


def _member_name_taken(name: str) -> Conflict:
    return Conflict(f"The team has a member named {name!r} already", code="team_member_name_taken")


# ---------------------------------------------------------------- teams


def insert_team(
    conn: Connection, *, user_id: str, name: str, description: str, framework: str, config: dict[str, Any]
) -> dict[str, Any]:
    try:
        row = conn.execute(
            f"""
            INSERT INTO agent_teams (user_id, name, description, framework, config)
            VALUES (%s, %s, %s, %s, %s)
            RETURNING {_TEAM}
            """,  # noqa: S608  (column list is a constant)
            (user_id, name, description, framework, Jsonb(config)),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _name_taken(name) from None
    assert row is not None  # RETURNING of an INSERT
    return row


def replace_team(
    conn: Connection, team_id: UUID, *, name: str, description: str, framework: str, config: dict[str, Any]
) -> dict[str, Any]:
    try:
        row = conn.execute(
            f"""
            UPDATE agent_teams SET name = %s, description = %s, framework = %s, config = %s
             WHERE id = %s
            RETURNING {_TEAM}
            """,  # noqa: S608  (column list is a constant)
            (name, description, framework, Jsonb(config), team_id),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _name_taken(name) from None
    if row is None:
        raise team_not_found()
    return row


def get_team(conn: Connection, team_id: UUID, *, for_update: bool = False) -> dict[str, Any]:
    """The team's row; ``for_update`` locks it, so that changes to its members are made one at a time."""
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(
        f"SELECT {_TEAM} FROM agent_teams WHERE id = %s{lock}",  # noqa: S608  (constant columns)
        (team_id,),
    ).fetchone()
    if row is None:
        raise team_not_found()
    return row


def touch_team(conn: Connection, team_id: UUID) -> dict[str, Any]:
    """Marks the team changed (its members were): its `updated_at` moves."""
    row = conn.execute(
        f"UPDATE agent_teams SET updated_at = now() WHERE id = %s RETURNING {_TEAM}",  # noqa: S608
        (team_id,),
    ).fetchone()
    if row is None:
        raise team_not_found()
    return row


def delete_team(conn: Connection, team_id: UUID) -> None:
    if conn.execute("DELETE FROM agent_teams WHERE id = %s", (team_id,)).rowcount == 0:
        raise team_not_found()


def page_teams(
    conn: Connection, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, with each team's member count; the cursor is the last row of the previous page."""
    return newest_first(
        conn,
        f"""
        SELECT {_TEAM},
               (SELECT count(*) FROM team_members m WHERE m.team_id = t.id) AS member_count
          FROM agent_teams t
        """,  # noqa: S608  (column list is a constant)
        limit=limit,
        cursor=cursor,
    )


# ---------------------------------------------------------------- members


def members_of(conn: Connection, team_id: UUID) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {_MEMBER} FROM team_members WHERE team_id = %s ORDER BY position, name",  # noqa: S608
        (team_id,),
    ).fetchall()


def _member_values(member: dict[str, Any]) -> tuple[Any, ...]:
    return (
        member["name"],
        member["role"],
        member["goal"] or "",
        member["backstory"] or "",
        member["model"],
        member["tools"],
        member["description"],
        member["system_message"],
        member["handoffs"],
        Jsonb(member["extra"]),
    )


def replace_members(conn: Connection, *, user_id: str, team_id: UUID, members: list[dict[str, Any]]) -> None:
    """The team's members become ``members`` (columns of `team_members`), in that order."""
    conn.execute("DELETE FROM team_members WHERE team_id = %s", (team_id,))
    for position, member in enumerate(members):
        insert_member(conn, user_id=user_id, team_id=team_id, member=member, position=position)


def insert_member(
    conn: Connection, *, user_id: str, team_id: UUID, member: dict[str, Any], position: int
) -> None:
    try:
        conn.execute(
            """
            INSERT INTO team_members (user_id, team_id, position, name, role, goal, backstory, model,
                                      tools, description, system_message, handoffs, extra)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (user_id, team_id, position, *_member_values(member)),
        )
    except psycopg.errors.UniqueViolation:
        raise _member_name_taken(member["name"]) from None


def update_member(conn: Connection, team_id: UUID, name: str, member: dict[str, Any]) -> None:
    """Replaces the member called ``name`` (it may be renamed); its position stays."""
    try:
        updated = conn.execute(
            """
            UPDATE team_members
               SET name = %s, role = %s, goal = %s, backstory = %s, model = %s, tools = %s,
                   description = %s, system_message = %s, handoffs = %s, extra = %s
             WHERE team_id = %s AND name = %s
            """,
            (*_member_values(member), team_id, name),
        ).rowcount
    except psycopg.errors.UniqueViolation:
        raise _member_name_taken(member["name"]) from None
    if updated == 0:
        raise member_not_found(name)


def delete_member(conn: Connection, team_id: UUID, name: str) -> None:
    if (
        conn.execute("DELETE FROM team_members WHERE team_id = %s AND name = %s", (team_id, name)).rowcount
        == 0
    ):
        raise member_not_found(name)

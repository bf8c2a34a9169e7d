"""SQL of the users' LLM preferences (`user_llm_preferences`, one row per user).

Functions take a connection of a tenant transaction: row-level security shows and accepts only
the caller's row, so no query filters on the user.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from auralink.db import Connection

_COLUMNS = "user_id, id, default_model, providers, updated_at"


def get(conn: Connection) -> dict[str, Any] | None:
    return conn.execute(f"SELECT {_COLUMNS} FROM user_llm_preferences").fetchone()  # noqa: S608  # constant text


def lock_or_create(conn: Connection, user_id: str) -> dict[str, Any]:
    """The caller's row, created empty if needed and locked until the transaction ends.

    The row, and with it the record id that encrypted keys are bound to, exists before any key is
    sealed: two first updates racing each other then seal against the same record id.
    """
    conn.execute(
        "INSERT INTO user_llm_preferences (user_id) VALUES (%s) ON CONFLICT (user_id) DO NOTHING", (user_id,)
    )
    row = conn.execute(f"SELECT {_COLUMNS} FROM user_llm_preferences FOR UPDATE").fetchone()  # noqa: S608  # constant text
    if row is None:  # the insert above guarantees it under the caller's identity
        raise RuntimeError("user_llm_preferences row missing after insert")
    return row


def update(conn: Connection, *, default_model: str | None, providers: dict[str, Any]) -> dict[str, Any]:
    row = conn.execute(
        f"UPDATE user_llm_preferences SET default_model = %s, providers = %s RETURNING {_COLUMNS}",  # noqa: S608  # constant text
        (default_model, Jsonb(providers)),
    ).fetchone()
    if row is None:  # called after lock_or_create in the same transaction
        raise RuntimeError("user_llm_preferences row missing on update")
    return row

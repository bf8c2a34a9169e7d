"""SQL of the users' LLM preferences (`user_llm_preferences`, one row per user).

Functions take a connection of a tenant transaction: row-level security shows and accepts only
the caller's row, so no query filters on the user.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from auralink.db import Connection

_COLUMNS = "user_id, id, default_model, providers, updated_at"


def get(conn: Connection, *, for_update: bool = False) -> dict[str, Any] | None:
    """The caller's row; ``for_update`` locks it so that concurrent updates apply one after the other."""
    lock = " FOR UPDATE" if for_update else ""
    return conn.execute(f"SELECT {_COLUMNS} FROM user_llm_preferences{lock}").fetchone()  # noqa: S608  # constant text


def save(
    conn: Connection, *, user_id: str, record_id: UUID, default_model: str | None, providers: dict[str, Any]
) -> dict[str, Any]:
    row = conn.execute(
        f"""
        INSERT INTO user_llm_preferences (user_id, id, default_model, providers)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (user_id) DO UPDATE SET
            default_model = EXCLUDED.default_model,
            providers     = EXCLUDED.providers
        RETURNING {_COLUMNS}
        """,  # noqa: S608  # constant text
        (user_id, record_id, default_model, Jsonb(providers)),
    ).fetchone()
    if row is None:  # RETURNING of an upsert always yields the row
        raise RuntimeError("upsert of user_llm_preferences returned nothing")
    return row

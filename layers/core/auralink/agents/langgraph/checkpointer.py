"""LangGraph's Postgres checkpointer on a connection of the run's owner.

The checkpoint tables carry the owner (filled from the session's caller) under the same
row-level security as every user table, so the connection is bound to the run's user for its
whole life and closed after the step: no other run ever sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from langgraph.checkpoint.postgres import PostgresSaver

from auralink.db import user_session


@contextmanager
def checkpointer_for(user_id: str) -> Iterator[PostgresSaver]:
    with user_session(user_id) as conn:
        yield PostgresSaver(conn)

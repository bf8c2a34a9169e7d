"""Each user's thought history in Postgres: the memory of the hosted Sequential Thinking server.

The reference server keeps one history per process, which for its usual client (one process per
conversation) is one history per problem. Here the history is bounded the same way in spirit:

- a thought numbered 1 that is neither a revision nor a branch starts a new chain, and the
  previous chain is forgotten;
- a chain keeps its most recent `MAX_HISTORY` thoughts; older ones are dropped.

Calls of one user are serialised (a transaction-scoped advisory lock), so that the history
length and branches each call reports are those its own thought produced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ConfigDict

from auralink.db import tenant_transaction
from auralink.model import DeferredModel

MAX_HISTORY = 1_000
# The first key of the advisory lock: a namespace for this table's per-user locks.
_LOCK_NAMESPACE = 0x5354  # "ST"
# JavaScript lists an object's integer-like keys first, in numeric order: the reference's
# `Object.keys(branches)` does.
_ARRAY_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
_MAX_ARRAY_INDEX = 2**32 - 2


class Thought(DeferredModel):
    """One thought as the tool received it, with ``total_thoughts`` already adjusted."""

    model_config = ConfigDict(frozen=True)

    thought: str
    thought_number: int
    total_thoughts: int
    next_thought_needed: bool
    is_revision: bool | None = None
    revises_thought: int | None = None
    branch_from_thought: int | None = None
    branch_id: str | None = None
    needs_more_thoughts: bool | None = None

    @property
    def starts_chain(self) -> bool:
        return self.thought_number == 1 and not self.is_revision and self.branch_from_thought is None


@dataclass(frozen=True)
class History:
    length: int
    branches: list[str]


def record_thought(user_id: str, thought: Thought) -> History:
    """Add ``thought`` to the caller's history; return the history as it now stands."""
    with tenant_transaction(user_id) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, user_id))
        if thought.starts_chain:
            conn.execute("DELETE FROM sequential_thoughts")
        conn.execute(
            """
            INSERT INTO sequential_thoughts (
                user_id, thought, thought_number, total_thoughts, next_thought_needed, is_revision,
                revises_thought, branch_from_thought, branch_id, needs_more_thoughts)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                user_id,
                thought.thought,
                thought.thought_number,
                thought.total_thoughts,
                thought.next_thought_needed,
                thought.is_revision,
                thought.revises_thought,
                thought.branch_from_thought,
                thought.branch_id,
                thought.needs_more_thoughts,
            ),
        )
        conn.execute(
            """
            DELETE FROM sequential_thoughts
             WHERE id <= (SELECT id FROM sequential_thoughts ORDER BY id DESC OFFSET %s LIMIT 1)
            """,
            (MAX_HISTORY,),
        )
        counted = conn.execute("SELECT count(*) AS length FROM sequential_thoughts").fetchone()
        # The reference records a branch when both its point and a non-empty id are given.
        branches = conn.execute(
            """
            SELECT branch_id FROM sequential_thoughts
             WHERE branch_from_thought IS NOT NULL AND branch_id <> ''
             GROUP BY branch_id ORDER BY min(id)
            """
        ).fetchall()
    length = counted["length"] if counted is not None else 0
    return History(length=length, branches=_javascript_key_order([row["branch_id"] for row in branches]))


def _javascript_key_order(keys: list[str]) -> list[str]:
    def is_index(key: str) -> bool:
        return bool(_ARRAY_INDEX.match(key)) and int(key) <= _MAX_ARRAY_INDEX

    indices = sorted((key for key in keys if is_index(key)), key=int)
    return indices + [key for key in keys if not is_index(key)]

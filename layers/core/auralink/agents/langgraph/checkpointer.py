"""LangGraph's Postgres checkpointer, on the same tenant transactions as every other query.

The checkpoint tables carry the owner (filled from the transaction's caller) under the same
row-level security as every user table. The library runs each of its units of work through
`PostgresSaver._cursor`; here each one is a `tenant_transaction` of the run's owner, so the caller
is set with ``set_config(..., true)`` at the start of every transaction. Behind RDS Proxy, which
may hand each transaction to a different backend, no checkpoint read or write ever depends on
what an earlier transaction left in a session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from langgraph.checkpoint.postgres import PostgresSaver
from psycopg import Cursor
from psycopg.rows import DictRow, dict_row

from auralink.db import tenant_transaction


class TenantSaver(PostgresSaver):
    """A `PostgresSaver` whose every unit of work is one transaction of ``user_id``.

    It holds no connection of its own: each unit of work takes the container's connection
    through `tenant_transaction`, which also reopens a lost one. ``self.conn`` stays None, so a
    library version that reached for it elsewhere would fail loudly rather than run a statement
    with no caller.
    """

    def __init__(self, user_id: str) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # see the class's docstring
        self.user_id = user_id

    @contextmanager
    def _cursor(self, *, pipeline: bool = False) -> Iterator[Cursor[DictRow]]:
        # One transaction whatever ``pipeline`` asks: the library wants its statements applied
        # together, which a transaction gives without pipeline mode's implicit ones.
        del pipeline
        with (
            self.lock,
            tenant_transaction(self.user_id) as conn,
            conn.cursor(binary=True, row_factory=dict_row) as cursor,
        ):
            yield cursor


def checkpointer_for(user_id: str) -> PostgresSaver:
    return TenantSaver(user_id)

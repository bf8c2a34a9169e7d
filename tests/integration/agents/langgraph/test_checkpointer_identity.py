"""The checkpointer carries the run's owner in every transaction, as every other query does.

Behind RDS Proxy, consecutive transactions of one client connection may run on different
backends, and a backend may still carry session state from whoever used it before. Here each
transaction of the service gets the next of several real backends in turn, one of which carries
another user in its session: checkpoints must still be written, read and deleted as the owner.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langgraph.graph import END, START, StateGraph
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row

from auralink.agents.langgraph.checkpointer import checkpointer_for
from auralink.db import connection as db_connection
from auralink.db import tenant_transaction
from infra.local.postgres import LocalDatabase

TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


class State(TypedDict):
    steps: Annotated[list[str], operator.add]


@pytest.fixture
def rotating_backends(
    service: pytest.MonkeyPatch, database: LocalDatabase, make_user_id: Callable[[str], str]
) -> Iterator[list[psycopg.Connection[DictRow]]]:
    """Every transaction of the service on the next of three backends; one carries another user."""
    backends = [
        psycopg.connect(database.app_dsn, autocommit=True, prepare_threshold=None, row_factory=dict_row)
        for _ in range(3)
    ]
    backends[1].execute("SELECT set_config('app.current_user_id', %s, false)", (make_user_id("intruder"),))
    turns = itertools.cycle(backends)
    service.setattr(db_connection, "_usable_connection", lambda: next(turns))
    yield backends
    for backend in backends:
        backend.close()


@pytest.fixture
def superuser(database: LocalDatabase) -> Iterator[psycopg.Connection[DictRow]]:
    """The application's database as a superuser: row-level security does not hide who owns what."""
    dbname = conninfo_to_dict(database.app_dsn)["dbname"]
    dsn = make_conninfo(database.admin_dsn, dbname=dbname)
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def _graph(saver: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("first", lambda state: {"steps": ["first"]})
    builder.add_node("second", lambda state: {"steps": ["second"]})
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    return builder.compile(checkpointer=saver, interrupt_before=["second"])


def _owners(superuser: psycopg.Connection[DictRow], thread_id: str) -> set[str]:
    owners: set[str] = set()
    for table in TABLES:
        rows = superuser.execute(
            f"SELECT DISTINCT user_id FROM {table} WHERE thread_id = %s",  # noqa: S608  # fixed names
            (thread_id,),
        ).fetchall()
        owners |= {row["user_id"] for row in rows}
    return owners


def test_checkpoints_carry_the_owner_whatever_backend_each_transaction_lands_on(
    rotating_backends: list[psycopg.Connection[DictRow]],
    superuser: psycopg.Connection[DictRow],
    make_user_id: Callable[[str], str],
) -> None:
    owner, thread_id = make_user_id("owner"), make_user_id("thread")
    config: Any = {"configurable": {"thread_id": thread_id}}

    graph = _graph(checkpointer_for(owner))
    graph.invoke({"steps": []}, config)
    # A later step (a new checkpointer, as a new Lambda invocation has) resumes from what was written.
    resumed = _graph(checkpointer_for(owner))
    assert resumed.get_state(config).next == ("second",)
    assert resumed.invoke(None, config) == {"steps": ["first", "second"]}

    assert _owners(superuser, thread_id) == {owner}
    with tenant_transaction(make_user_id("someone-else")) as conn:
        seen = conn.execute("SELECT count(*) AS n FROM checkpoints WHERE thread_id = %s", (thread_id,))
        assert seen.fetchone() == {"n": 0}

    checkpointer_for(owner).delete_thread(thread_id)
    assert _owners(superuser, thread_id) == set()
    # Every backend took part; none was left inside a transaction.
    assert all(
        backend.info.transaction_status == psycopg.pq.TransactionStatus.IDLE for backend in rotating_backends
    )

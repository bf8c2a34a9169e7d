"""Statements sent together: with a transaction's BEGIN (and COMMIT), or inside it, in one round trip."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.types.json import Jsonb

from auralink.db import (
    Statement,
    execute_batch,
    system_transaction,
    tenant_batch,
    tenant_statements,
    tenant_transaction,
)
from auralink.errors import Unauthorized

_INSERT = Statement(
    "INSERT INTO mcp_rate_windows (bucket, window_start, window_seconds, calls) VALUES (%s, now(), 60, 1)"
)


def _insert(marker: str) -> Statement:
    return Statement(_INSERT.query, (marker,))


def _stored(owner_conn: psycopg.Connection, marker: str) -> bool:
    return (
        owner_conn.execute("SELECT 1 FROM mcp_rate_windows WHERE bucket = %s", (marker,)).fetchone()
        is not None
    )


def _marker() -> str:
    return f"batch-{time.monotonic_ns()}"


def test_statements_go_as_one_transaction_of_the_caller_and_each_gives_its_rows(
    owner_conn: psycopg.Connection,
) -> None:
    # A subject is the token's to choose, and values are the users': quoted by the client, they
    # reach the server as they are.
    caller = "o'brien\\'; SELECT 1; --"
    text = "50% of it's \\ ; COMMIT; --"
    values = (b"\x00'\\", Jsonb({"a": [1, "b'c"]}), uuid.uuid4(), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    marker = _marker()

    rows = tenant_statements(
        caller,
        [
            Statement(
                "SELECT current_setting('app.current_user_id') AS caller, %(text)s::text AS text,"
                " pg_current_xact_id()::text AS xact",
                {"text": text},
            ),
            _insert(marker),
            Statement("SELECT %s::bytea AS b, %s::jsonb AS j, %s::uuid AS u, %s::timestamptz AS t", values),
            Statement(
                "SELECT %s::text[] AS texts, %s::int AS nothing, pg_current_xact_id()::text AS xact",
                (["x", "y'z", ""], None),
            ),
        ],
    )

    xact = rows[0][0]["xact"]
    assert rows[0] == [{"caller": caller, "text": text, "xact": xact}]
    assert rows[1] == []
    assert rows[2] == [{"b": values[0], "j": {"a": [1, "b'c"]}, "u": values[2], "t": values[3]}]
    assert rows[3] == [{"texts": ["x", "y'z", ""], "nothing": None, "xact": xact}]  # one transaction
    assert _stored(owner_conn, marker)  # committed


def test_a_failing_statement_commits_nothing_of_its_batch_and_the_next_transaction_starts_clean(
    owner_conn: psycopg.Connection, make_user_id: Callable[[str], str]
) -> None:
    marker = _marker()

    with pytest.raises(psycopg.errors.DivisionByZero):
        tenant_statements(make_user_id(), [_insert(marker), Statement("SELECT 1 / 0")])
    with tenant_transaction(make_user_id()) as conn:
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}

    assert not _stored(owner_conn, marker)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_batch_opens_the_transaction_that_its_block_goes_on_in(
    owner_conn: psycopg.Connection, make_user_id: Callable[[str], str]
) -> None:
    user_id = make_user_id()
    kept, dropped = _marker(), _marker()

    with tenant_batch(user_id, [_insert(kept), Statement("SELECT pg_current_xact_id()::text AS xact")]) as (
        conn,
        rows,
    ):
        same = conn.execute("SELECT pg_current_xact_id()::text AS xact").fetchone()
        seen = conn.execute("SELECT current_setting('app.current_user_id') AS caller").fetchone()
    with pytest.raises(RuntimeError), tenant_batch(user_id, [_insert(dropped)]):
        raise RuntimeError("the block fails")

    assert rows[1] == [same]
    assert seen == {"caller": user_id}
    assert _stored(owner_conn, kept)
    assert not _stored(owner_conn, dropped)


def test_statements_inside_a_transaction_go_in_one_round_trip_and_commit_with_it(
    owner_conn: psycopg.Connection,
) -> None:
    marker = _marker()

    with system_transaction() as conn:
        assert execute_batch(conn, []) == []
        rows = execute_batch(conn, [_insert(marker), Statement("SELECT %s::text AS back", ("it's",))])
        assert not _stored(owner_conn, marker)  # not committed yet

    assert rows == [[], [{"back": "it's"}]]
    assert _stored(owner_conn, marker)


def test_a_batch_finding_its_connection_closed_by_the_server_is_sent_again_on_a_new_one(
    admin_conn: psycopg.Connection, make_user_id: Callable[[str], str]
) -> None:
    with system_transaction() as conn:
        first = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
    admin_conn.execute("SELECT pg_terminate_backend(%s, 5000)", (first,))
    user_id = make_user_id()

    (rows,) = tenant_statements(
        user_id,
        [Statement("SELECT pg_backend_pid() AS pid, current_setting('app.current_user_id') AS caller")],
    )

    assert rows[0]["pid"] != first
    assert rows[0]["caller"] == user_id


def test_an_empty_subject_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(Unauthorized):
        tenant_statements("", [Statement("SELECT 1")])
    with pytest.raises(Unauthorized), tenant_batch("", [Statement("SELECT 1")]):
        pass

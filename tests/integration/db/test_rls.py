"""Row-level security as the service sees it: through tenant_transaction, as the application role."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from psycopg import errors
from psycopg.types.json import Jsonb

from auralink.db import system_transaction, tenant_transaction
from auralink.errors import Unauthorized


@pytest.fixture
def alice(make_user_id: Callable[[str], str]) -> str:
    return make_user_id("alice")


@pytest.fixture
def bob(make_user_id: Callable[[str], str]) -> str:
    return make_user_id("bob")


def _create_connection(user_id: str, name: str = "docs") -> str:
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            """
            INSERT INTO user_mcp_connections (user_id, server_id, name, credentials)
            SELECT %s, id, %s, 'ciphertext' FROM mcp_servers WHERE name = 'deepwiki'
            RETURNING id
            """,
            (user_id, name),
        ).fetchone()
    assert row is not None
    return str(row["id"])


def test_a_user_sees_only_their_own_rows(alice: str, bob: str) -> None:
    alices = _create_connection(alice)
    bobs = _create_connection(bob)

    with tenant_transaction(alice) as conn:
        seen = conn.execute("SELECT id::text AS id, user_id FROM user_mcp_connections").fetchall()
    assert seen == [{"id": alices, "user_id": alice}]

    with tenant_transaction(bob) as conn:
        assert conn.execute("SELECT id::text AS id FROM user_mcp_connections").fetchall() == [{"id": bobs}]
        assert conn.execute("SELECT * FROM user_mcp_connections WHERE id = %s", (alices,)).fetchall() == []


def test_another_users_rows_cannot_be_changed_or_deleted(alice: str, bob: str) -> None:
    alices = _create_connection(alice)

    with tenant_transaction(bob) as conn:
        updated = conn.execute(
            "UPDATE user_mcp_connections SET name = 'stolen' WHERE id = %s", (alices,)
        ).rowcount
        deleted = conn.execute("DELETE FROM user_mcp_connections WHERE id = %s", (alices,)).rowcount
    assert (updated, deleted) == (0, 0)

    with tenant_transaction(alice) as conn:
        row = conn.execute("SELECT name FROM user_mcp_connections WHERE id = %s", (alices,)).fetchone()
    assert row == {"name": "docs"}


def test_rows_cannot_be_written_for_another_user(alice: str, bob: str) -> None:
    with (
        pytest.raises(errors.InsufficientPrivilege, match="row-level security"),
        tenant_transaction(bob) as conn,
    ):
        conn.execute(
            "INSERT INTO agent_workflows (user_id, name, definition) VALUES (%s, 'w', %s)",
            (alice, Jsonb({"nodes": []})),
        )

    bobs = _create_connection(bob)
    with pytest.raises(errors.InsufficientPrivilege), tenant_transaction(bob) as conn:
        conn.execute("UPDATE user_mcp_connections SET user_id = %s WHERE id = %s", (alice, bobs))

    with tenant_transaction(alice) as conn:
        assert conn.execute("SELECT count(*) AS n FROM agent_workflows").fetchone() == {"n": 0}
        assert conn.execute("SELECT count(*) AS n FROM user_mcp_connections").fetchone() == {"n": 0}


def test_a_row_cannot_point_at_another_users_row(alice: str, bob: str) -> None:
    # Foreign key checks ignore RLS; the (user_id, id) keys are what stops this.
    alices = _create_connection(alice)

    with pytest.raises(errors.ForeignKeyViolation), tenant_transaction(bob) as conn:
        conn.execute(
            """
            INSERT INTO mcp_operation_logs (user_id, connection_id, server_name, operation, status)
            VALUES (%s, %s, 'deepwiki', 'call_tool', 'success')
            """,
            (bob, alices),
        )


def test_without_a_caller_no_user_row_is_visible_but_registries_are(alice: str) -> None:
    _create_connection(alice)

    with system_transaction() as conn:
        assert conn.execute("SELECT count(*) AS n FROM user_mcp_connections").fetchone() == {"n": 0}
        assert conn.execute("SELECT count(*) AS n FROM mcp_servers").fetchone() == {"n": 4}
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO mcp_operation_logs (user_id, server_name, operation, status)"
                " VALUES (%s, 'deepwiki', 'call_tool', 'success')",
                (alice,),
            )


def test_the_caller_is_gone_once_the_transaction_ends(alice: str) -> None:
    with tenant_transaction(alice) as conn:
        inside = conn.execute(
            "SELECT pg_backend_pid() AS pid, current_setting('app.current_user_id', true) AS caller"
        ).fetchone()
    assert inside is not None
    assert inside["caller"] == alice

    # The same connection (same backend), outside any transaction of ours.
    after_commit = conn.execute(
        "SELECT pg_backend_pid() AS pid, current_setting('app.current_user_id', true) AS caller,"
        " app_current_user_id() AS effective"
    ).fetchone()
    assert after_commit is not None
    assert after_commit["pid"] == inside["pid"]
    assert after_commit["caller"] in ("", None)
    assert after_commit["effective"] is None

    with system_transaction() as conn:
        row = conn.execute("SELECT pg_backend_pid() AS pid, app_current_user_id() AS effective").fetchone()
    assert row == {"pid": inside["pid"], "effective": None}


def test_the_caller_is_gone_after_a_rollback_too(alice: str) -> None:
    with pytest.raises(RuntimeError), tenant_transaction(alice):
        raise RuntimeError("the request failed")

    with system_transaction() as conn:
        assert conn.execute("SELECT app_current_user_id() AS caller").fetchone() == {"caller": None}


def test_an_empty_caller_is_refused() -> None:
    with pytest.raises(Unauthorized) as raised, tenant_transaction(""):
        pass
    assert raised.value.code == "identity_missing"


def test_rows_written_by_the_service_are_visible_to_their_owner_only(
    alice: str, owner_conn: psycopg.Connection
) -> None:
    _create_connection(alice)

    # Even the owner is subject to the policies (FORCE): without a caller it sees nothing.
    assert owner_conn.execute("SELECT count(*) AS n FROM user_mcp_connections").fetchone() == {"n": 0}
    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (alice,))
        assert owner_conn.execute("SELECT count(*) AS n FROM user_mcp_connections").fetchone() == {"n": 1}

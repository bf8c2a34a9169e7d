"""The schema's security properties, read from the catalog so that a new table cannot slip past."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

PRODUCT_TABLES = {
    "users",
    "mcp_servers",
    "user_mcp_connections",
    "mcp_operation_logs",
    "agent_workflows",
    "workflow_executions",
    "agent_teams",
    "team_members",
    "team_conversations",
    # The messages of team runs, one row per message.
    "team_messages",
    "llm_providers",
    "llm_models",
    "user_llm_preferences",
    "llm_performance_metrics",
    "prefect_flows",
    "prefect_flow_runs",
    "memory_entities",
    "memory_relations",
    "idempotency_keys",
    "sequential_thoughts",
    # LangGraph's checkpoints of workflow runs.
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "agent_tool_calls",
    # Quotas per user: the lock row of a user's run starts, and the refusals.
    "quota_locks",
    "quota_refusals",
    # Sign-ins to MCP servers behind OAuth in flight, bound by their state.
    "mcp_oauth_states",
}
# State of the service itself, shared by every container: no user data, no row-level security.
SERVICE_STATE = {
    "mcp_rate_windows",
    "mcp_circuit_breakers",
    "mcp_server_health",
    # The checkpoint library's schema version.
    "checkpoint_migrations",
    # OAuth clients registered at MCP servers' authorization servers, shared by the deployment.
    "mcp_oauth_clients",
}
REGISTRIES = {"mcp_servers", "llm_providers", "llm_models"}
MATERIALIZED = {"agent_performance_summary", "mcp_usage_summary", "llm_comparison_view"}
CALLER_VIEWS = {"my_agent_performance_summary", "my_mcp_usage_summary", "my_llm_comparison"}


def _tables(conn: psycopg.Connection) -> dict[str, dict]:
    rows = conn.execute(
        """
        SELECT c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
               EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)
                   AS has_user_id
          FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
        """
    ).fetchall()
    return {row["name"]: row for row in rows}


def test_the_schema_has_the_product_tables_and_nothing_else(owner_conn: psycopg.Connection) -> None:
    assert set(_tables(owner_conn)) == PRODUCT_TABLES | SERVICE_STATE | {"schema_migrations"}


def test_every_table_with_user_id_has_forced_row_level_security(owner_conn: psycopg.Connection) -> None:
    tables = _tables(owner_conn)
    tenant_tables = {name for name, row in tables.items() if row["has_user_id"]}

    assert tenant_tables == PRODUCT_TABLES - REGISTRIES
    unprotected = {name for name in tenant_tables if not (tables[name]["rls"] and tables[name]["forced"])}
    assert unprotected == set()


def test_every_tenant_table_filters_every_command_on_the_caller(owner_conn: psycopg.Connection) -> None:
    rows = owner_conn.execute(
        """
        SELECT tablename, cmd, qual, with_check, roles::text[] AS roles
          FROM pg_policies WHERE schemaname = 'public' AND policyname = 'tenant_isolation'
        """
    ).fetchall()
    policies = {row["tablename"]: row for row in rows}

    assert set(policies) == PRODUCT_TABLES - REGISTRIES
    for table, policy in policies.items():
        assert policy["cmd"] == "ALL", table
        assert policy["roles"] == ["public"], table
        assert policy["qual"] == "(user_id = app_current_user_id())", table
        assert policy["with_check"] == "(user_id = app_current_user_id())", table


def test_the_only_other_policies_serve_the_owners_summaries_and_log_cleanup(
    owner_conn: psycopg.Connection,
) -> None:
    rows = owner_conn.execute(
        """
        SELECT p.tablename, p.cmd, p.roles::text[] AS roles, c.relowner::regrole::text AS owner
          FROM pg_policies p JOIN pg_class c ON c.oid = format('%I.%I', p.schemaname, p.tablename)::regclass
         WHERE p.schemaname = 'public' AND p.policyname <> 'tenant_isolation'
        """
    ).fetchall()

    assert {(row["tablename"], row["cmd"]) for row in rows} == {
        ("workflow_executions", "SELECT"),
        ("mcp_operation_logs", "SELECT"),
        ("llm_performance_metrics", "SELECT"),
        # close_abandoned_mcp_operations() completes rows left pending by a dead function.
        ("mcp_operation_logs", "UPDATE"),
        # mcp_oauth_state_owner() names a state's user to the callback, which has no caller yet;
        # delete_expired_mcp_oauth_states() removes states of every user a day past their expiry.
        ("mcp_oauth_states", "SELECT"),
        ("mcp_oauth_states", "DELETE"),
    }
    for row in rows:
        assert row["roles"] == [row["owner"]]


def test_the_application_role_is_powerless(owner_conn: psycopg.Connection) -> None:
    role = owner_conn.execute(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin"
        " FROM pg_roles WHERE rolname = 'auralink_app'"
    ).fetchone()
    assert role == {
        "rolsuper": False,
        "rolbypassrls": False,
        "rolcreaterole": False,
        "rolcreatedb": False,
        "rolcanlogin": True,
    }
    owned = owner_conn.execute(
        """
        SELECT 'relation' AS kind, relname::text AS name FROM pg_class
         WHERE relowner = 'auralink_app'::regrole
        UNION ALL
        SELECT 'function', proname::text FROM pg_proc WHERE proowner = 'auralink_app'::regrole
        UNION ALL
        SELECT 'type', typname::text FROM pg_type WHERE typowner = 'auralink_app'::regrole
        UNION ALL
        SELECT 'schema', nspname::text FROM pg_namespace WHERE nspowner = 'auralink_app'::regrole
        UNION ALL
        SELECT 'database', datname::text FROM pg_database WHERE datdba = 'auralink_app'::regrole
        """
    ).fetchall()
    assert owned == []


def test_the_application_role_has_only_the_grants_it_needs(owner_conn: psycopg.Connection) -> None:
    def can(privilege: str, relation: str) -> bool:
        row = owner_conn.execute(
            "SELECT has_table_privilege('auralink_app', %s, %s) AS ok", (f"public.{relation}", privilege)
        ).fetchone()
        return bool(row and row["ok"])

    for table in REGISTRIES:
        assert can("SELECT", table)
        assert not any(can(privilege, table) for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"))
    for relation in MATERIALIZED | {"schema_migrations"}:
        assert not can("SELECT", relation), relation
    for view in CALLER_VIEWS:
        assert can("SELECT", view) and not can("INSERT", view)
    for log in ("mcp_operation_logs", "llm_performance_metrics", "agent_tool_calls"):
        assert can("INSERT", log) and not can("UPDATE", log) and not can("DELETE", log)
    # The service completes an operation's outcome, never who, what or when.
    column = owner_conn.execute(
        "SELECT has_column_privilege('auralink_app', 'public.mcp_operation_logs', 'status', 'UPDATE')"
        " AS status, has_column_privilege('auralink_app', 'public.mcp_operation_logs', 'user_id', 'UPDATE')"
        " AS user_id"
    ).fetchone()
    assert column == {"status": True, "user_id": False}
    for table in PRODUCT_TABLES:
        assert not can("TRUNCATE", table) and not can("REFERENCES", table), table
    row = owner_conn.execute(
        "SELECT has_schema_privilege('auralink_app', 'public', 'CREATE') AS ok"
    ).fetchone()
    assert row == {"ok": False}


def test_privileged_functions_pin_their_search_path(owner_conn: psycopg.Connection) -> None:
    rows = owner_conn.execute(
        "SELECT proname, proconfig FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND prosecdef"
    ).fetchall()

    assert {row["proname"] for row in rows} == {
        "schema_version",
        "refresh_summary_views",
        "close_abandoned_mcp_operations",
        "unstarted_runs",
        "mcp_oauth_state_owner",
        "delete_expired_mcp_oauth_states",
    }
    for row in rows:
        assert "search_path=pg_catalog, pg_temp" in row["proconfig"]


def test_only_the_service_functions_are_executable_by_the_application_role(
    owner_conn: psycopg.Connection,
) -> None:
    rows = owner_conn.execute(
        """
        SELECT proname FROM pg_proc
         WHERE pronamespace = 'public'::regnamespace
           AND has_function_privilege('auralink_app', oid, 'EXECUTE')
           AND prorettype <> 'trigger'::regtype
        """
    ).fetchall()
    assert {row["proname"] for row in rows} == {
        "app_current_user_id",
        "schema_version",
        "refresh_summary_views",
        "close_abandoned_mcp_operations",
        "unstarted_runs",
        "mcp_oauth_state_owner",
        "delete_expired_mcp_oauth_states",
    }


@pytest.mark.parametrize("view", sorted(MATERIALIZED))
def test_the_application_role_cannot_read_a_materialized_view(app_dsn: str, view: str) -> None:
    with psycopg.connect(app_dsn) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(f"SELECT * FROM {view}")


def test_each_materialized_view_can_be_refreshed_concurrently(owner_conn: psycopg.Connection) -> None:
    rows = owner_conn.execute(
        """
        SELECT c.relname AS name
          FROM pg_class c
         WHERE c.relkind = 'm' AND c.relnamespace = 'public'::regnamespace
           AND EXISTS (SELECT 1 FROM pg_index i
                        WHERE i.indrelid = c.oid AND i.indisunique
                          AND i.indpred IS NULL AND i.indexprs IS NULL)
        """
    ).fetchall()
    assert {row["name"] for row in rows} == MATERIALIZED


def test_caller_views_are_security_barriers(owner_conn: psycopg.Connection) -> None:
    rows = owner_conn.execute(
        "SELECT relname, reloptions FROM pg_class"
        " WHERE relkind = 'v' AND relnamespace = 'public'::regnamespace"
    ).fetchall()
    assert {row["relname"] for row in rows} == CALLER_VIEWS
    for row in rows:
        assert "security_barrier=true" in row["reloptions"]

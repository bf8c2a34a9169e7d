"""The scheduled refresh of the summaries and the migration function, through their handlers."""

from __future__ import annotations

import pytest

from auralink.settings import reset_settings
from tests.support.handlers import invoke, sample_event
from tests.support.runs import create_run


@pytest.fixture(autouse=True)
def _service(service):
    return service


def test_the_schedule_refreshes_the_three_summaries(make_user_id, owner_conn):
    user = make_user_id()
    create_run(user, framework="langgraph")

    result = invoke("RefreshSummariesFunction", sample_event("RefreshSummariesFunction"))

    assert set(result["refreshed"]) == {
        "agent_performance_summary",
        "mcp_usage_summary",
        "llm_comparison_view",
    }
    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (user,))
        rows = owner_conn.execute("SELECT * FROM my_agent_performance_summary").fetchall()
    assert [row["user_id"] for row in rows] == [user]


def test_the_migration_function_is_idempotent(service, database):
    service.setenv("DATABASE_OWNER_URL", database.owner_dsn)
    reset_settings()

    result = invoke("MigrateFunction", sample_event("MigrateFunction"))

    assert result["applied"] == []
    assert result["schema_version"]


def test_the_migration_function_needs_the_owner(service):
    with pytest.raises(Exception) as caught:
        invoke("MigrateFunction", sample_event("MigrateFunction"))
    assert "DATABASE_OWNER_URL" in str(caught.value)

"""Summary views: refreshed concurrently by the service role, read only through the caller's views."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from psycopg import errors

from auralink.db import system_transaction, tenant_transaction


def _record_activity(user_id: str, *, runs: int, failures: int, calls: int, llm_errors: int) -> None:
    with tenant_transaction(user_id) as conn:
        for index in range(runs):
            status = "failed" if index < failures else "succeeded"
            conn.execute(
                """
                INSERT INTO workflow_executions (user_id, framework, status, started_at, finished_at)
                VALUES (%s, 'langgraph', %s, now() - make_interval(secs => %s), now())
                """,
                (user_id, status, index + 1),
            )
        for index in range(calls):
            conn.execute(
                """
                INSERT INTO mcp_operation_logs (user_id, server_name, tool, operation, status, latency_ms)
                VALUES (%s, 'deepwiki', 'ask_question', 'call_tool', 'success', %s)
                """,
                (user_id, 10 * (index + 1)),
            )
        for index in range(3):
            conn.execute(
                """
                INSERT INTO llm_performance_metrics
                    (user_id, provider, model, status, latency_ms, input_tokens, output_tokens, cost_usd)
                VALUES (%s, 'openai', 'gpt-5.4-mini', %s, 100, 1000, 500, 0.00045)
                """,
                (user_id, "error" if index < llm_errors else "success"),
            )


def _refresh() -> list[str]:
    with system_transaction() as conn:
        return [row["view"] for row in conn.execute("SELECT refresh_summary_views() AS view").fetchall()]


def test_each_caller_reads_only_their_own_summaries(make_user_id: Callable[[str], str]) -> None:
    alice, bob = make_user_id("alice"), make_user_id("bob")
    _record_activity(alice, runs=4, failures=1, calls=5, llm_errors=1)
    _record_activity(bob, runs=2, failures=2, calls=1, llm_errors=0)

    assert _refresh() == ["agent_performance_summary", "mcp_usage_summary", "llm_comparison_view"]

    with tenant_transaction(alice) as conn:
        agents = conn.execute("SELECT * FROM my_agent_performance_summary").fetchall()
        usage = conn.execute("SELECT * FROM my_mcp_usage_summary").fetchall()
        llm = conn.execute("SELECT * FROM my_llm_comparison").fetchall()
    assert [
        (row["user_id"], row["framework"], row["runs"], row["successes"], row["failures"]) for row in agents
    ] == [(alice, "langgraph", 4, 3, 1)]
    assert agents[0]["p95_duration_ms"] == pytest.approx(3850, rel=0.05)
    assert [(row["server_name"], row["tool"], row["calls"], row["errors"]) for row in usage] == [
        ("deepwiki", "ask_question", 5, 0)
    ]
    assert usage[0]["p50_latency_ms"] == 30
    assert [(row["provider"], row["model"], row["calls"], row["errors"]) for row in llm] == [
        ("openai", "gpt-5.4-mini", 3, 1)
    ]
    assert llm[0]["error_rate"] == pytest.approx(1 / 3)
    assert llm[0]["cost_usd"] == Decimal("0.001350")
    assert llm[0]["input_tokens"] == 3000

    with tenant_transaction(bob) as conn:
        rows = conn.execute("SELECT user_id, runs, failures FROM my_agent_performance_summary").fetchall()
    assert rows == [{"user_id": bob, "runs": 2, "failures": 2}]

    with system_transaction() as conn:
        assert conn.execute("SELECT count(*) AS n FROM my_llm_comparison").fetchone() == {"n": 0}


def test_a_refresh_picks_up_new_activity_while_the_views_hold_data(
    make_user_id: Callable[[str], str],
) -> None:
    carol = make_user_id("carol")
    _record_activity(carol, runs=1, failures=0, calls=1, llm_errors=0)
    _refresh()
    _record_activity(carol, runs=1, failures=1, calls=0, llm_errors=0)

    assert len(_refresh()) == 3

    with tenant_transaction(carol) as conn:
        row = conn.execute("SELECT runs, failures FROM my_agent_performance_summary").fetchone()
    assert row == {"runs": 2, "failures": 1}


def test_runs_without_a_workflow_form_one_group(make_user_id: Callable[[str], str]) -> None:
    dave = make_user_id("dave")
    _record_activity(dave, runs=3, failures=0, calls=0, llm_errors=0)
    _refresh()

    with tenant_transaction(dave) as conn:
        rows = conn.execute("SELECT workflow_id, runs FROM my_agent_performance_summary").fetchall()
    assert rows == [{"workflow_id": None, "runs": 3}]


def test_the_service_role_cannot_read_the_materialized_views_directly(
    make_user_id: Callable[[str], str],
) -> None:
    with pytest.raises(errors.InsufficientPrivilege), tenant_transaction(make_user_id("eve")) as conn:
        conn.execute("SELECT * FROM llm_comparison_view")

"""A user who starts more runs than their quotas allow: at once, and per hour.

Over HTTP against the local runtime, whose concurrent requests run in environments of their own
(processes with their own connections), as Lambda's do. The hour's window moves with the test's
own clock in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from auralink.db import tenant_transaction
from auralink.quotas import service as quotas
from tests.support.runs import SCRIPTED_WORKFLOWS, create_workflow

if TYPE_CHECKING:
    from tests.integration.runs.conftest import RunsClient

ENVIRONMENT_SETUP = SCRIPTED_WORKFLOWS
WAITS = {"input": {"script": "ask"}}


def refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert response.headers["Retry-After"].isdigit() and int(response.headers["Retry-After"]) >= 1
    return error


def runs_of(user_id: str) -> int:
    with tenant_transaction(user_id) as conn:
        row = conn.execute("SELECT count(*) AS runs FROM workflow_executions").fetchone()
    assert row is not None
    return int(row["runs"])


def refusals_of(user_id: str) -> list[str]:
    with tenant_transaction(user_id) as conn:
        rows = conn.execute("SELECT quota FROM quota_refusals ORDER BY created_at").fetchall()
    return [row["quota"] for row in rows]


def test_concurrent_starts_past_the_limit_admit_exactly_the_limit(
    runs_client: Callable[[str], RunsClient], start_environment: Callable[..., Any]
) -> None:
    mallory, bob = runs_client("mallory"), runs_client("bob")
    workflow = create_workflow(mallory.user_id)
    with start_environment(QUOTA_CONCURRENT_RUNS="3"):
        # Given runs that stay live (each waits for a person), started all at once from threads.
        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(lambda _: mallory.execute(workflow, WAITS), range(8)))

        accepted = [response for response in responses if response.status_code == 202]
        refused = [refusal(response) for response in responses if response.status_code != 202]
        assert (len(accepted), len(refused)) == (3, 5)
        assert {error["details"]["quota"] for error in refused} == {"concurrent_runs"}
        assert {error["details"]["limit"] for error in refused} == {3}
        assert all(error["details"]["resets_at"] is None for error in refused)
        assert {response.headers["Retry-After"] for response in responses if response.status_code == 429} == {
            str(quotas.CONCURRENT_RUNS_RETRY_AFTER_S)
        }
        # Nothing of a refused start is left behind but its record.
        assert runs_of(mallory.user_id) == 3
        assert refusals_of(mallory.user_id) == ["concurrent_runs"] * 5

        # Another user is not held back by mallory's runs.
        assert bob.execute(create_workflow(bob.user_id), WAITS).status_code == 202

        # A run that ends frees its slot.
        first = accepted[0].json()["run_id"]
        mallory.settle(first)
        assert mallory.http.post(f"/api/v1/runs/{first}/cancel").status_code == 202
        assert mallory.execute(workflow, WAITS).status_code == 202
        refusal(mallory.execute(workflow, WAITS))


def test_runs_per_hour_refuse_the_next_run_until_the_hour_ends(
    runs_client: Callable[[str], RunsClient], start_environment: Callable[..., Any]
) -> None:
    alice = runs_client("alice")
    workflow = create_workflow(alice.user_id)
    with start_environment(QUOTA_RUNS_PER_HOUR="2"):
        for _ in range(2):
            response = alice.execute(workflow, {"input": {"n": 1}})
            assert response.status_code == 202, response.text
            alice.settle(response.json()["run_id"])

        error = refusal(alice.execute(workflow, {"input": {"n": 1}}))

    assert error["details"]["quota"] == "runs_per_hour"
    assert (error["details"]["limit"], error["details"]["used"]) == (2, 2)
    resets_at = datetime.fromisoformat(error["details"]["resets_at"])
    assert (resets_at.minute, resets_at.second) == (0, 0)
    assert 1 <= error["details"]["retry_after_seconds"] <= 3600
    assert runs_of(alice.user_id) == 2

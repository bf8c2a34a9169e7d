"""A user creates a pipeline (a calculator step and a map over three items), executes it and
gets the result: over HTTP against the local runtime, the real state machine driving the real run
step, on the test session's Prefect server, whose own API shows the same flow run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.local.postgres import LocalDatabase
from infra.local.prefect_server import LocalPrefectServer
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.e2e.conftest import ROOT, runtime_database_url

DOUBLER = {
    "name": "doubler",
    "parameters_schema": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"type": "number"}}},
    },
    "definition": {
        "steps": [
            {"id": "t", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}},
            {
                "id": "m",
                "kind": "map",
                "over": "{parameters.items}",
                "concurrency": 2,
                "step": {"kind": "tool", "tool": "calculator", "arguments": {"expression": "{item} * 2"}},
            },
        ],
        "output": {"answer": "{steps.t.output.result}", "doubled": "{steps.m.output}"},
    },
}


@pytest.fixture(scope="module")
def local_runtime(database: LocalDatabase, prefect_server: LocalPrefectServer) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(
        ROOT,
        port=0,
        database_url=runtime_database_url(database),
        schedules=False,
        prefect_api_url=prefect_server.api_url,
    )
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def _task_run_states(server: LocalPrefectServer, flow_run_id: str, *, until: Any) -> list[str]:
    """The state types of the flow run's task runs on Prefect's own API, once ``until`` holds
    (or as they are after 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        task_runs = httpx.post(
            f"{server.api_url}/task_runs/filter",
            json={"flow_runs": {"id": {"any_": [flow_run_id]}}},
            timeout=10,
        ).json()
        states = sorted(t["state_type"] for t in task_runs)
        if until(states) or time.monotonic() > deadline:
            return states
        time.sleep(0.1)


def poll(api: httpx.Client, headers: dict[str, str], run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = api.get(f"/api/v1/runs/{run_id}", headers=headers)
        assert response.status_code == 200, response.text
        run = response.json()
        if run["status"] not in ("queued", "running"):
            return dict(run)
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_tool_step_and_a_map_over_three_items_succeed_on_prefect(
    api: httpx.Client, make_user_id, prefect_server: LocalPrefectServer
) -> None:
    headers = {"Authorization": f"Bearer {mint_dev_token(make_user_id('pia'))}"}
    created = api.post("/api/v1/pipelines", headers=headers, json=DOUBLER)
    assert created.status_code == 201, created.text
    pipeline_id = created.json()["pipeline_id"]

    started = api.post(
        f"/api/v1/pipelines/{pipeline_id}/execute",
        headers={**headers, "Idempotency-Key": "doubler-e2e-1"},
        json={"parameters": {"items": [1, 2, 3]}},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    run = poll(api, headers, run_id)

    assert run["status"] == "succeeded", run
    assert run["output"] == {"answer": "42", "doubled": '[{"result":2},{"result":4},{"result":6}]'}
    completed = [t for t in run["task_runs"] if t["state"] == "COMPLETED"]
    assert len(completed) >= 4
    assert sorted((t["step"], t.get("map_index")) for t in completed) == [
        ("m", 0),
        ("m", 1),
        ("m", 2),
        ("t", None),
    ]
    # The same flow run, on the Prefect server's own API.
    flow_run_id = run["prefect_flow_run_id"]
    flow_run = httpx.get(f"{prefect_server.api_url}/flow_runs/{flow_run_id}", timeout=10).json()
    assert flow_run["state_type"] == "COMPLETED"
    assert f"auralink-run:{run_id}" in flow_run["tags"]
    # Prefect's server records task runs' states from the events its clients send, in the
    # background: the last one may show a moment after the flow run has ended.
    states = _task_run_states(prefect_server, flow_run_id, until=lambda found: found == ["COMPLETED"] * 4)
    assert states == ["COMPLETED"] * 4
    history = api.get(f"/api/v1/pipelines/{pipeline_id}/runs", headers=headers)
    assert history.status_code == 200 and [r["run_id"] for r in history.json()["runs"]] == [run_id]
    logs = api.get(f"/api/v1/runs/{run_id}/logs", headers=headers)
    assert logs.status_code == 200 and logs.json()["logs"], logs.text

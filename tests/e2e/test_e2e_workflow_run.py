"""A user creates a workflow, executes it, watches it, answers its question and gets the result:
over HTTP against the local runtime, the real state machine driving the real step function."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.local.token import mint_dev_token
from tests.fakes.openai_server import Calls, LlmServer, Text, openai_server

KEY = "sk-e2e-workflow-1a2b3c4d5e6f"

DEFINITION = {
    "entry": "research",
    "nodes": [
        {
            "id": "research",
            "kind": "agent",
            "instructions": "Work out the price for {input.customer}.",
            "prompt": "{input.items} items at {input.unit_price} each",
            "tools": ["calculator"],
        },
        {
            "id": "approve",
            "kind": "human",
            "prompt": "Offer {outputs.research} to {input.customer}?",
            "input_schema": {
                "type": "object",
                "properties": {"approved": {"type": "boolean"}, "discount": {"type": "number"}},
                "required": ["approved"],
            },
        },
        {
            "id": "decide",
            "kind": "condition",
            "branches": [{"when": "outputs.approve.approved == true", "to": "write"}],
            "default": "END",
        },
        {
            "id": "write",
            "kind": "llm",
            "prompt": "Write the offer: {outputs.research}, discount {outputs.approve.discount}%",
        },
    ],
    "edges": [
        {"from": "research", "to": "approve"},
        {"from": "approve", "to": "decide"},
        {"from": "write", "to": "END"},
    ],
}


@pytest.fixture(scope="module")
def compatible_server() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


def poll(api: httpx.Client, headers: dict[str, str], run_id: str, until: set[str]) -> list[dict[str, Any]]:
    """Every view of the run seen until its status is one of ``until``."""
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = api.get(f"/api/v1/runs/{run_id}", headers=headers)
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if seen[-1]["status"] in until:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} stayed {seen[-1]['status']}")


def test_create_execute_watch_answer_and_get_the_result(
    api: httpx.Client, make_user_id, compatible_server: LlmServer
) -> None:
    headers = {"Authorization": f"Bearer {mint_dev_token(make_user_id('alice'))}"}
    compatible_server.script.then(
        Calls([("calculator", {"expression": "12 * 9.5"})], input_tokens=300, output_tokens=20),
        Text("114 dollars", input_tokens=350, output_tokens=5),
        Text("Dear Ada, 114 dollars less 10%.", input_tokens=80, output_tokens=12),
    )
    stored = api.put(
        "/api/v1/llm/preferences",
        headers=headers,
        json={
            "default_model": "openai/gpt-5.4-mini",
            "providers": {"openai": {"api_key": KEY, "base_url": compatible_server.base_url + "/v1"}},
        },
    )
    assert stored.status_code == 200, stored.text

    created = api.post("/api/v1/workflows", headers=headers, json={"name": "offer", "definition": DEFINITION})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["workflow_id"]
    started = api.post(
        f"/api/v1/workflows/{workflow_id}/execute",
        headers=headers,
        json={"input": {"customer": "Ada", "items": 12, "unit_price": 9.5}},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]

    views = poll(api, headers, run_id, {"waiting_for_input", "failed", "succeeded"})
    waiting = views[-1]
    assert waiting["status"] == "waiting_for_input", waiting
    assert waiting["progress"]["current_node"] == "approve"
    assert waiting["progress"]["steps_done"] == 1
    assert waiting["progress"]["waiting_for"]["prompt"] == "Offer 114 dollars to Ada?"
    assert waiting["usage"]["llm_calls"] == 2 and waiting["usage"]["input_tokens"] == 650

    refused = api.post(f"/api/v1/runs/{run_id}/resume", headers=headers, json={"input": {"approved": "yes"}})
    assert refused.status_code == 422, refused.text
    resumed = api.post(
        f"/api/v1/runs/{run_id}/resume", headers=headers, json={"input": {"approved": True, "discount": 10}}
    )
    assert resumed.status_code == 202, resumed.text

    done = poll(api, headers, run_id, {"succeeded", "failed", "cancelled"})[-1]
    assert done["status"] == "succeeded", done
    assert done["output"]["result"] == "Dear Ada, 114 dollars less 10%."
    assert done["output"]["outputs"]["approve"] == {"approved": True, "discount": 10}
    finished = [event["node"] for event in done["events"] if event["type"] == "node_finished"]
    assert finished == ["research", "approve", "decide", "write"]
    assert done["usage"]["llm_calls"] == 3 and done["usage"]["tokens"] == 767
    assert done["usage"]["cost_usd"] > 0
    tool_turn = compatible_server.script.received[1].body["messages"]
    assert tool_turn[-1]["role"] == "tool" and tool_turn[-1]["content"] == "114.0"

    listed = api.get("/api/v1/runs", headers=headers, params={"workflow_id": workflow_id})
    assert [run["run_id"] for run in listed.json()["runs"]] == [run_id]

"""Traces of a run, as the X-Ray daemon receives them: the local runtime runs every function with
the exporter Lambda uses (`OTEL_TRACES_EXPORTER=xray`) pointed at a daemon on loopback.

A workflow run that waits for a person and is resumed is one trace: the request that started it,
then every step of every execution, with the LLM calls, the agent's tool call and the database
transactions inside them; and no span carries the user's content, key or token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.local.postgres import LocalDatabase
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.e2e.conftest import runtime_database_url
from tests.e2e.test_e2e_workflow_run import poll
from tests.fakes.openai_server import Calls, LlmServer, Text, openai_server
from tests.fakes.xray_daemon import XRayDaemon, xray_daemon
from tests.support.runtime import local_runtime_with

KEY = "sk-e2e-traces-7f3e9a1b2c4d"
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
        {"id": "approve", "kind": "human", "prompt": "Offer {outputs.research} to {input.customer}?"},
        {"id": "write", "kind": "llm", "prompt": "Write the offer: {outputs.research}"},
    ],
    "edges": [
        {"from": "research", "to": "approve"},
        {"from": "approve", "to": "write"},
        {"from": "write", "to": "END"},
    ],
}
# What the user sent, the model answered and the tool computed: never in a span.
CONTENT = ("Ada Lovelace", "12 * 9.5", "114 dollars", "Dear Ada", "items at", KEY)


@pytest.fixture(scope="module")
def daemon() -> Iterator[XRayDaemon]:
    with xray_daemon() as received:
        yield received


@pytest.fixture(scope="module")
def provider() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def local_runtime(database: LocalDatabase, daemon: XRayDaemon) -> Iterator[LocalRuntime]:
    variables = {"OTEL_TRACES_EXPORTER": "xray", "AWS_XRAY_DAEMON_ADDRESS": daemon.address}
    with local_runtime_with(runtime_database_url(database), variables) as runtime:
        yield runtime


def _request(documents: list[dict[str, Any]], method: str, route_end: str) -> dict[str, Any]:
    found = [
        document
        for document in documents
        if document.get("annotations", {}).get("http_request_method") == method
        and str(document["annotations"].get("http_route", "")).endswith(route_end)
    ]
    assert len(found) == 1, found
    return found[0]


def _documents_until(daemon: XRayDaemon, ready: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while True:
        documents = daemon.documents()
        if ready(documents) or time.monotonic() > deadline:
            return documents
        time.sleep(0.05)


def test_a_run_resumed_after_a_question_is_one_trace_without_content(
    api: httpx.Client, make_user_id: Any, provider: LlmServer, daemon: XRayDaemon
) -> None:
    token = mint_dev_token(make_user_id("tracer"))
    headers = {"Authorization": f"Bearer {token}"}
    provider.script.then(
        Calls([("calculator", {"expression": "12 * 9.5"})], input_tokens=300, output_tokens=20),
        Text("114 dollars", input_tokens=350, output_tokens=5),
        Text("Dear Ada, 114 dollars.", input_tokens=80, output_tokens=12),
    )
    stored = api.put(
        "/api/v1/llm/preferences",
        headers=headers,
        json={
            "default_model": "openai/gpt-5.4-mini",
            "providers": {"openai": {"api_key": KEY, "base_url": provider.base_url + "/v1"}},
        },
    )
    assert stored.status_code == 200, stored.text
    created = api.post("/api/v1/workflows", headers=headers, json={"name": "offer", "definition": DEFINITION})
    assert created.status_code == 201, created.text
    started = api.post(
        f"/api/v1/workflows/{created.json()['workflow_id']}/execute",
        headers=headers,
        json={"input": {"customer": "Ada Lovelace", "items": 12, "unit_price": 9.5}},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert poll(api, headers, run_id, {"waiting_for_input", "failed"})[-1]["status"] == "waiting_for_input"
    resumed = api.post(f"/api/v1/runs/{run_id}/resume", headers=headers, json={"input": {"ok": True}})
    assert resumed.status_code == 202, resumed.text
    assert poll(api, headers, run_id, {"succeeded", "failed"})[-1]["status"] == "succeeded"

    documents = _documents_until(daemon, lambda found: sum(1 for d in found if d["name"] == "run step") >= 2)
    execute = _request(documents, "POST", "/execute")
    resume = _request(documents, "POST", "/resume")
    run_trace = [document for document in documents if document["trace_id"] == execute["trace_id"]]
    steps = [document for document in run_trace if document["name"] == "run step"]

    # The request that started the run is the trace's root; every step, before and after the
    # person's answer, is its child; the resume request is a trace of its own.
    assert "parent_id" not in execute and execute["annotations"]["http_response_status_code"] == 202
    assert len(steps) >= 2 and all(step["parent_id"] == execute["id"] for step in steps)
    assert resume["trace_id"] != execute["trace_id"]
    ids = {document["id"] for document in run_trace}
    assert all(document["parent_id"] in ids for document in run_trace if document is not execute)

    # Inside the steps: the three model calls with their usage and cost, the tool call, the
    # database transactions.
    llm = [document for document in run_trace if document["name"] == "llm chat openai"]
    assert sorted(d["annotations"]["gen_ai_usage_input_tokens"] for d in llm) == [80, 300, 350]
    assert {d["annotations"]["gen_ai_request_model"] for d in llm} == {"gpt-5.4-mini"}
    assert all(d["annotations"]["gen_ai_usage_cost_usd"] > 0 and d["namespace"] == "remote" for d in llm)
    tools = [document for document in run_trace if document["name"] == "agent tool"]
    assert [tool["annotations"]["agent_tool_name"] for tool in tools] == ["calculator"]
    assert tools[0]["annotations"]["run_id"] == run_id
    assert any(document["name"] == "db transaction" for document in run_trace)

    raw = daemon.raw().decode()
    for content in (*CONTENT, token):
        assert content not in raw

"""CrewAI crews as runs, over HTTP against the local runtime: the run state machine sends each
step to CrewStepFunction, which runs in CrewAI's own interpreter and reaches models and tools
through the API with the run's token (the OpenAI-compatible endpoint, the tool catalog).

The crew's models are the loopback OpenAI-compatible server, behind the user's own key: every
model call goes through the product's gateway, which records it against the run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from auralink.db import tenant_transaction
from infra.local.token import mint_dev_token
from tests.fakes.openai_server import Calls, LlmServer, Text, openai_server
from tests.support.crew import crew_python

KEY = "sk-e2e-crew-1a2b3c4d5e6f"
MODEL = "openai/gpt-5.4-mini"
RESEARCHER = {
    "name": "researcher",
    "role": "Researcher",
    "goal": "Find facts about {task_description}",
    "backstory": "A careful analyst",
    "tools": ["calculator"],
}
WRITER = {"name": "writer", "role": "Writer", "goal": "Write clearly", "backstory": "An editor"}
PAIR = {
    "team_name": "report",
    "collaboration_mode": "sequential",
    "members": [RESEARCHER, WRITER],
    "tasks": [
        {
            "name": "research",
            "description": "Research {task_description} with {additional_context}",
            "expected_output": "Facts",
            "agent": "researcher",
        },
        {
            "name": "write",
            "description": "Write the report",
            "expected_output": "A report",
            "agent": "writer",
        },
    ],
}


@pytest.fixture(scope="module", autouse=True)
def crew_environment() -> None:
    crew_python()  # made before the runtime's first crew step, not inside its init


@pytest.fixture(scope="module")
def llm() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_script(llm: LlmServer) -> None:
    llm.script.reset()


def user_headers(
    api: httpx.Client, make_user_id: Any, llm: LlmServer, name: str = "alice"
) -> tuple[str, dict[str, str]]:
    """A user whose default model is the loopback server's, behind their own key."""
    user = make_user_id(name)
    headers = {"Authorization": f"Bearer {mint_dev_token(user)}"}
    stored = api.put(
        "/api/v1/llm/preferences",
        headers=headers,
        json={
            "default_model": MODEL,
            "providers": {"openai": {"api_key": KEY, "base_url": llm.base_url + "/v1"}},
        },
    )
    assert stored.status_code == 200, stored.text
    return user, headers


def start(api: httpx.Client, headers: dict[str, str], team: dict[str, Any], **body: Any) -> tuple[str, str]:
    created = api.post("/api/v1/teams", headers=headers, json=team)
    assert created.status_code == 201, created.text
    team_id = created.json()["team_id"]
    started = api.post(
        f"/api/v1/teams/{team_id}/execute", headers=headers, json={"task_description": "tides", **body}
    )
    assert started.status_code == 202, started.text
    return team_id, started.json()["run_id"]


def wait(
    api: httpx.Client, headers: dict[str, str], run_id: str, *, until: set[str] | None = None
) -> dict[str, Any]:
    ended = until or {"succeeded", "failed", "cancelled", "waiting_for_input"}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/runs/{run_id}", headers=headers).json()
        if run["status"] in ended:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end: {run}")


def messages(api: httpx.Client, headers: dict[str, str], run_id: str) -> list[dict[str, Any]]:
    page = api.get(f"/api/v1/runs/{run_id}/messages", headers=headers)
    assert page.status_code == 200, page.text
    return page.json()["messages"]


def prompt_of(received: Any) -> str:
    return "\n".join(str(message.get("content")) for message in received.body["messages"])


def test_a_sequential_crew_runs_its_tasks_in_order_through_the_gateways(
    api: httpx.Client, make_user_id: Any, llm: LlmServer
) -> None:
    user, headers = user_headers(api, make_user_id, llm)
    llm.script.then(
        Calls([("calculator", {"expression": "6*7"})]),
        Text("Tides rise twice a day; 42 is the answer.", input_tokens=100, output_tokens=10),
        Text("Report: tides rise twice a day.", input_tokens=100, output_tokens=10),
    )

    team_id, run_id = start(api, headers, PAIR, additional_context={"focus": "moon"})
    done = wait(api, headers, run_id)

    assert done["status"] == "succeeded", done
    assert done["output"] == {
        "final_output": "Report: tides rise twice a day.",
        "tasks_output": [
            {
                "task": "research",
                "agent": "researcher",
                "output": "Tides rise twice a day; 42 is the answer.",
            },
            {"task": "write", "agent": "writer", "output": "Report: tides rise twice a day."},
        ],
        "stop_reason": "completed",
    }
    assert done["progress"]["tasks_done"] == 2 and done["progress"]["tasks_total"] == 2
    assert done["usage"]["llm_calls"] == 3 and done["usage"]["cost_usd"] > 0
    said = messages(api, headers, run_id)
    assert [(m["source"], m["type"]) for m in said] == [
        ("user", "text"),
        ("crew", "handoff"),
        ("researcher", "tool_call"),
        ("researcher", "tool_result"),
        ("researcher", "text"),
        ("crew", "handoff"),
        ("writer", "text"),
        ("crew", "stop"),
    ]
    assert said[2]["content"][0]["tool"] == "calculator" and said[3]["content"][0]["content"] == "42"
    # The placeholders were filled, and the writer read the researcher's output as its context.
    received = llm.script.received
    assert 'Research tides with {"focus": "moon"}' in prompt_of(received[0])
    assert "Find facts about tides" in prompt_of(received[0])
    assert "Tides rise twice a day; 42 is the answer." in prompt_of(received[2])
    # Every model call and the tool call are the run's, recorded by the gateways.
    with tenant_transaction(user) as conn:
        tools = conn.execute(
            "SELECT tool, status FROM agent_tool_calls WHERE run_id = %s", (run_id,)
        ).fetchall()
        calls = conn.execute(
            "SELECT count(*) AS n FROM llm_performance_metrics WHERE run_id = %s", (run_id,)
        ).fetchone()
    assert tools == [{"tool": "calculator", "status": "success"}] and calls == {"n": 3}
    # Another user sees none of it.
    other = {"Authorization": f"Bearer {mint_dev_token(make_user_id('mallory'))}"}
    for path in (f"/api/v1/runs/{run_id}", f"/api/v1/runs/{run_id}/messages", f"/api/v1/teams/{team_id}"):
        assert api.get(path, headers=other).status_code == 404, path

"""A user creates an AutoGen team, executes it, follows its messages as they grow and gets the
result with its usage and cost: over HTTP against the local runtime, the real state machine
driving the real step function. Another user sees none of it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.local.token import mint_dev_token
from tests.fakes.openai_server import Calls, LlmServer, Slow, Text, openai_server

KEY = "sk-e2e-team-6a7b8c9d0e1f"
TEAM = {
    "team_name": "picnic",
    "collaboration_mode": "round_robin",
    "members": [
        {"name": "planner", "description": "Plans the day"},
        {"name": "critic", "description": "Finds what the plan lacks"},
    ],
    "termination": {"max_messages": 4},
}
REPLIES = ["Park at noon.", "No shade there.", "Bring an umbrella.", "Good enough."]


@pytest.fixture(scope="module")
def compatible_server() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


def follow(api: httpx.Client, headers: dict[str, str], run_id: str) -> tuple[dict[str, Any], list[list[int]]]:
    """Poll the run's messages with `after`/`next` until the run ends: the final view of the run
    and the sequence numbers each poll brought."""
    after, batches = 0, []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = api.get(f"/api/v1/runs/{run_id}/messages", headers=headers, params={"after": after})
        assert page.status_code == 200, page.text
        body = page.json()
        if body["messages"]:
            batches.append([message["seq"] for message in body["messages"]])
        after = body["next"]
        run = api.get(f"/api/v1/runs/{run_id}", headers=headers).json()
        if run["status"] not in {"queued", "running"} and not body["messages"]:
            return run, batches
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def test_create_execute_follow_messages_and_get_the_result(
    api: httpx.Client, make_user_id, compatible_server: LlmServer
) -> None:
    headers = {"Authorization": f"Bearer {mint_dev_token(make_user_id('alice'))}"}
    other = {"Authorization": f"Bearer {mint_dev_token(make_user_id('mallory'))}"}
    # Each model call takes a little while, so that a poller sees the conversation grow.
    compatible_server.script.then(
        *(Slow(0.3, Text(reply, input_tokens=100, output_tokens=10)) for reply in REPLIES)
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

    created = api.post("/api/v1/teams", headers=headers, json=TEAM)
    assert created.status_code == 201, created.text
    team_id = created.json()["team_id"]
    started = api.post(
        f"/api/v1/teams/{team_id}/execute",
        headers=headers,
        json={"task_description": "Plan a picnic", "additional_context": {"people": 4}},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]

    done, batches = follow(api, headers, run_id)

    assert done["status"] == "succeeded", done
    assert done["kind"] == "team" and done["team_id"] == team_id
    assert len(batches) > 1, "the messages should arrive over several polls"
    seqs = [seq for batch in batches for seq in batch]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    messages = api.get(f"/api/v1/runs/{run_id}/messages", headers=headers).json()["messages"]
    assert [(m["source"], m["type"]) for m in messages] == [
        ("user", "text"),
        ("planner", "text"),
        ("critic", "text"),
        ("planner", "text"),
        ("critic", "text"),
        ("team", "stop"),
    ]
    assert [m["content"] for m in messages[1:5]] == REPLIES
    assert messages[1]["usage"] == {"input_tokens": 100, "output_tokens": 10}
    assert done["output"] == {
        "final_message": {"source": "critic", "content": "Good enough."},
        "stop_reason": "max_messages",
        "messages": 4,
    }
    assert done["progress"]["messages"] == 4 and done["progress"]["current_speaker"] == "critic"
    assert done["usage"]["llm_calls"] == 4 and done["usage"]["tokens"] == 440
    assert done["usage"]["cost_usd"] > 0

    conversations = api.get(f"/api/v1/teams/{team_id}/conversations", headers=headers).json()["conversations"]
    assert [(c["run_id"], c["status"], c["message_count"]) for c in conversations] == [
        (run_id, "succeeded", 4)
    ]
    assert conversations[0]["task_description"] == "Plan a picnic"
    assert conversations[0]["cost_usd"] == pytest.approx(done["usage"]["cost_usd"])

    for path in (
        f"/api/v1/runs/{run_id}",
        f"/api/v1/runs/{run_id}/messages",
        f"/api/v1/teams/{team_id}",
        f"/api/v1/teams/{team_id}/conversations",
    ):
        assert api.get(path, headers=other).status_code == 404, path
    assert (
        api.post(
            f"/api/v1/teams/{team_id}/execute", headers=other, json={"task_description": "x"}
        ).status_code
        == 404
    )


SWARM = {
    "team_name": "travel",
    "collaboration_mode": "swarm",
    "members": [
        {"name": "agent", "description": "Books trips", "handoffs": ["user"]},
        {"name": "helper", "description": "Checks details", "handoffs": ["agent"]},
    ],
    "termination": {"max_messages": 2},
}


def test_a_swarm_asks_the_person_and_goes_on_with_the_answer(
    api: httpx.Client, make_user_id, compatible_server: LlmServer
) -> None:
    headers = {"Authorization": f"Bearer {mint_dev_token(make_user_id('alice'))}"}
    compatible_server.script.then(
        Calls([("transfer_to_user", {})], content="Which city?"),
        Text("Booked for Lisbon."),
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
    team_id = api.post("/api/v1/teams", headers=headers, json=SWARM).json()["team_id"]
    run_id = api.post(
        f"/api/v1/teams/{team_id}/execute", headers=headers, json={"task_description": "Book a trip"}
    ).json()["run_id"]

    waiting, _ = follow(api, headers, run_id)

    assert waiting["status"] == "waiting_for_input", waiting
    assert waiting["progress"]["waiting_for"]["node"] == "agent"
    assert waiting["progress"]["waiting_for"]["prompt"] == "Which city?"
    refused = api.post(f"/api/v1/runs/{run_id}/resume", headers=headers, json={"input": 5})
    assert refused.status_code == 422, refused.text
    resumed = api.post(f"/api/v1/runs/{run_id}/resume", headers=headers, json={"answer": "Lisbon"})
    assert resumed.status_code == 202, resumed.text

    done, _ = follow(api, headers, run_id)

    assert done["status"] == "succeeded", done
    messages = api.get(f"/api/v1/runs/{run_id}/messages", headers=headers).json()["messages"]
    assert [(m["source"], m["type"]) for m in messages] == [
        ("user", "text"),
        ("agent", "text"),
        ("agent", "tool_call"),
        ("agent", "tool_result"),
        ("agent", "handoff"),
        ("user", "handoff"),
        ("agent", "text"),
        ("team", "stop"),
    ]
    assert messages[5]["content"] == {"target": "agent", "message": "Lisbon"}
    assert done["output"]["final_message"] == {"source": "agent", "content": "Booked for Lisbon."}

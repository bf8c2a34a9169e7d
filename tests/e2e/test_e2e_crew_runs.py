"""CrewAI crews as runs, over HTTP against the local runtime: the run state machine sends each
step to CrewStepFunction, which runs in CrewAI's own interpreter and reaches models and tools
through the API with the run's token (the OpenAI-compatible endpoint, the tool catalog).

The crew's models are the loopback OpenAI-compatible server, behind the user's own key: every
model call goes through the product's gateway, which records it against the run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from auralink.db import tenant_transaction
from infra.local.token import mint_dev_token
from tests.fakes.mcp_servers import LoopbackServer, tools_app
from tests.fakes.openai_server import Calls, Fail, LlmServer, Slow, Text, openai_server
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


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(tools_app(stateless=False), name="e2e-crew-tools") as server:
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


def test_an_agent_calls_a_tool_of_the_users_mcp_server_recorded_in_the_operation_log(
    api: httpx.Client, make_user_id: Any, llm: LlmServer, mcp_server: LoopbackServer
) -> None:
    user, headers = user_headers(api, make_user_id, llm)
    connected = api.post(
        "/api/v1/mcp/connect",
        headers=headers,
        json={"server_type": "custom", "endpoint": mcp_server.url, "name": "maths"},
    )
    assert connected.status_code == 201, connected.text
    solo = {
        "team_name": "adder",
        "collaboration_mode": "sequential",
        "members": [{**WRITER, "tools": ["mcp:maths/add"]}],
    }
    llm.script.then(Calls([("mcp__maths__add", {"a": 40, "b": 2})]), Text("The sum is 42."))

    _, run_id = start(api, headers, solo)
    done = wait(api, headers, run_id)

    assert done["status"] == "succeeded", done
    # A crew without tasks does the run's task itself, by its first member.
    assert done["output"]["tasks_output"] == [{"task": "task", "agent": "writer", "output": "The sum is 42."}]
    said = messages(api, headers, run_id)
    assert [(m["source"], m["type"]) for m in said][2:4] == [
        ("writer", "tool_call"),
        ("writer", "tool_result"),
    ]
    assert said[2]["content"][0]["tool"] == "mcp:maths/add" and said[3]["content"][0]["is_error"] is False
    with tenant_transaction(user) as conn:
        tools = conn.execute(
            "SELECT tool, status FROM agent_tool_calls WHERE run_id = %s", (run_id,)
        ).fetchall()
        logged = conn.execute(
            "SELECT tool, status FROM mcp_operation_logs WHERE operation = 'call_tool'"
        ).fetchall()
    assert tools == [{"tool": "mcp:maths/add", "status": "success"}]
    assert logged == [{"tool": "add", "status": "success"}]


REVIEWED = {
    "team_name": "reviewed",
    "collaboration_mode": "sequential",
    "members": [RESEARCHER, WRITER],
    "tasks": [
        {
            "name": "draft",
            "description": "Draft a note on {task_description}",
            "expected_output": "A draft",
            "agent": "writer",
            "human_input": True,
        },
        {"name": "polish", "description": "Polish the draft", "expected_output": "A note", "agent": "writer"},
    ],
}


def test_a_task_with_human_input_waits_for_a_review_and_takes_the_feedback(
    api: httpx.Client, make_user_id: Any, llm: LlmServer
) -> None:
    _, headers = user_headers(api, make_user_id, llm)
    llm.script.then(Text("Draft one."), Text("Draft two, shorter."), Text("Polished note."))

    _, run_id = start(api, headers, REVIEWED)
    waiting = wait(api, headers, run_id)

    assert waiting["status"] == "waiting_for_input", waiting
    assert waiting["progress"]["waiting_for"]["node"] == "draft"
    assert waiting["progress"]["waiting_for"]["prompt"] == "Draft one."
    assert waiting["progress"]["tasks_done"] == 1 and waiting["progress"]["tasks_total"] == 2
    # Feedback: the task is done again with it, and reviewed again.
    fed = api.post(f"/api/v1/runs/{run_id}/resume", headers=headers, json={"answer": "Make it shorter"})
    assert fed.status_code == 202, fed.text
    time.sleep(0.2)
    again = wait(api, headers, run_id)
    assert again["status"] == "waiting_for_input", again
    assert again["progress"]["waiting_for"]["prompt"] == "Draft two, shorter."
    redo = prompt_of(llm.script.received[1])
    assert "Draft one." in redo and "Make it shorter" in redo
    # An empty answer accepts the output: the crew goes on.
    accepted = api.post(f"/api/v1/runs/{run_id}/resume", headers=headers, json={"answer": ""})
    assert accepted.status_code == 202, accepted.text
    time.sleep(0.2)
    done = wait(api, headers, run_id, until={"succeeded", "failed", "cancelled"})

    assert done["status"] == "succeeded", done
    assert [task["output"] for task in done["output"]["tasks_output"]] == [
        "Draft two, shorter.",
        "Polished note.",
    ]
    assert "Draft two, shorter." in prompt_of(llm.script.received[2])
    said = [(m["source"], m["type"]) for m in messages(api, headers, run_id)]
    assert said == [
        ("user", "text"),
        ("crew", "handoff"),
        ("writer", "text"),
        ("user", "text"),
        ("crew", "handoff"),
        ("writer", "text"),
        ("crew", "handoff"),
        ("writer", "text"),
        ("crew", "stop"),
    ]


def until_conversation(user: str, run_id: str, condition: Any) -> None:
    """Wait until the run's conversation row (as its owner reads it) meets ``condition``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with tenant_transaction(user) as conn:
            saved = conn.execute(
                "SELECT turns, stop_reason FROM team_conversations WHERE run_id = %s", (run_id,)
            ).fetchone()
        if saved is not None and condition(saved):
            return
        time.sleep(0.02)
    raise AssertionError(f"the conversation of run {run_id} never got there")


@pytest.fixture
def outcome_held(owner_conn: Any) -> Iterator[Any]:
    """Hold the next outcome a step records for a run (``hold(run_id)``) for a few seconds, once:
    long enough to kill the step after it saved its work and before the run records its end."""
    owner_conn.execute("CREATE TABLE IF NOT EXISTS test_held_outcomes (run_id uuid PRIMARY KEY)")
    owner_conn.execute(
        """
        CREATE OR REPLACE FUNCTION test_hold_outcome() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER AS $$
        BEGIN
            IF OLD.status = 'running' AND NEW.status <> 'running' THEN
                DELETE FROM test_held_outcomes WHERE run_id = NEW.id;
                IF FOUND THEN
                    PERFORM pg_sleep(4);
                END IF;
            END IF;
            RETURN NEW;
        END $$
        """
    )
    owner_conn.execute(
        "CREATE OR REPLACE TRIGGER test_hold_outcome BEFORE UPDATE ON workflow_executions"
        " FOR EACH ROW EXECUTE FUNCTION test_hold_outcome()"
    )

    def hold(run_id: str) -> None:
        owner_conn.execute("INSERT INTO test_held_outcomes VALUES (%s)", (run_id,))

    try:
        yield hold
    finally:
        owner_conn.execute("DROP TRIGGER test_hold_outcome ON workflow_executions")
        owner_conn.execute("DROP FUNCTION test_hold_outcome()")
        owner_conn.execute("DROP TABLE test_held_outcomes")


def test_feedback_is_used_once_when_the_step_dies_after_saving_the_task_it_redid(
    api: httpx.Client, make_user_id: Any, llm: LlmServer, outcome_held: Any
) -> None:
    user, headers = user_headers(api, make_user_id, llm)
    llm.script.then(Text("Draft one."), Text("Draft two, shorter."), Text("Polished note."))
    _, run_id = start(api, headers, REVIEWED)
    assert wait(api, headers, run_id)["status"] == "waiting_for_input"

    outcome_held(run_id)
    fed = api.post(f"/api/v1/runs/{run_id}/resume", headers=headers, json={"answer": "Make it shorter"})
    assert fed.status_code == 202, fed.text
    # The task done again is saved (the second turn); the step dies before the run records that
    # it waits, and the state machine does the step once more.
    until_conversation(user, run_id, lambda saved: saved["turns"] == 2)
    for process in _crew_environments():
        process.kill()
    again = wait(api, headers, run_id)

    assert again["status"] == "waiting_for_input", again
    assert again["progress"]["waiting_for"]["prompt"] == "Draft two, shorter."
    assert len(llm.script.received) == 2, "the feedback was used twice"
    accepted = api.post(f"/api/v1/runs/{run_id}/resume", headers=headers, json={"answer": ""})
    assert accepted.status_code == 202, accepted.text
    time.sleep(0.2)
    done = wait(api, headers, run_id, until={"succeeded", "failed", "cancelled"})
    assert done["status"] == "succeeded", done
    outputs = [task["output"] for task in done["output"]["tasks_output"]]
    assert outputs == ["Draft two, shorter.", "Polished note."]
    said = [(m["source"], m["type"]) for m in messages(api, headers, run_id)]
    assert said.count(("user", "text")) == 2  # the task, and the feedback once


def test_a_step_that_dies_after_the_crew_ended_ends_the_run_once(
    api: httpx.Client, make_user_id: Any, llm: LlmServer, outcome_held: Any
) -> None:
    user, headers = user_headers(api, make_user_id, llm)
    llm.script.then(Text("Facts."), Text("Report."))
    _, run_id = start(api, headers, PAIR)
    outcome_held(run_id)
    # The crew ends (its stop message written) and the step dies before the run records it.
    until_conversation(user, run_id, lambda saved: saved["stop_reason"] is not None)
    for process in _crew_environments():
        process.kill()
    done = wait(api, headers, run_id)

    assert done["status"] == "succeeded", done
    assert [task["output"] for task in done["output"]["tasks_output"]] == ["Facts.", "Report."]
    assert len(llm.script.received) == 2, "a task ran again"
    said = messages(api, headers, run_id)
    assert [m["content"]["reason"] for m in said if m["type"] == "stop"] == ["completed"]


def test_a_hierarchical_crews_manager_delegates_to_its_members(
    api: httpx.Client, make_user_id: Any, llm: LlmServer
) -> None:
    _, headers = user_headers(api, make_user_id, llm)
    managed = {
        "team_name": "managed",
        "collaboration_mode": "hierarchical",
        "members": [RESEARCHER, WRITER],
        "tasks": [
            {"name": "brief", "description": "Brief on {task_description}", "expected_output": "A brief"}
        ],
    }
    delegate = {"task": "Find two facts on tides", "context": "For a brief", "coworker": "Researcher"}
    llm.script.then(
        Calls([("delegate_work_to_coworker", delegate)]),
        Text("Tides: two a day; moon-driven."),
        Text("Brief: tides come twice a day, driven by the moon."),
    )

    _, run_id = start(api, headers, managed)
    done = wait(api, headers, run_id)

    assert done["status"] == "succeeded", done
    assert done["output"]["final_output"] == "Brief: tides come twice a day, driven by the moon."
    said = messages(api, headers, run_id)
    handoffs = [(m["source"], m["content"]["target"]) for m in said if m["type"] == "handoff"]
    assert handoffs == [("crew", "manager"), ("manager", "researcher")]
    assert [(m["source"], m["type"]) for m in said] == [
        ("user", "text"),
        ("crew", "handoff"),
        ("manager", "handoff"),
        ("manager", "text"),
        ("crew", "stop"),
    ]
    assert said[2]["content"]["message"] == "Find two facts on tides"
    assert done["usage"]["llm_calls"] == 3


def test_a_failing_model_fails_the_run_with_the_gateways_error(
    api: httpx.Client, make_user_id: Any, llm: LlmServer
) -> None:
    _, headers = user_headers(api, make_user_id, llm)
    llm.script.then(Fail(401, "bad key"))

    _, run_id = start(api, headers, PAIR)
    done = wait(api, headers, run_id)

    assert done["status"] == "failed", done
    assert done["error"]["code"] == "llm_auth_failed", done["error"]
    said = messages(api, headers, run_id)
    assert said[-1]["type"] == "stop" and said[-1]["content"]["reason"] == "error"
    assert KEY not in json.dumps(done) and KEY not in json.dumps(said)


def test_a_cancel_is_honoured_between_tasks(api: httpx.Client, make_user_id: Any, llm: LlmServer) -> None:
    _, headers = user_headers(api, make_user_id, llm)
    llm.script.then(Slow(1.5, Text("Facts.")), Text("never asked"))

    _, run_id = start(api, headers, PAIR)
    deadline = time.monotonic() + 60
    while not llm.script.received and time.monotonic() < deadline:
        time.sleep(0.05)
    cancelled = api.post(f"/api/v1/runs/{run_id}/cancel", headers=headers)
    assert cancelled.status_code in {200, 202}, cancelled.text
    done = wait(api, headers, run_id, until={"succeeded", "failed", "cancelled"})

    assert done["status"] == "cancelled", done
    assert len(llm.script.received) == 1
    said = messages(api, headers, run_id)
    assert said[-1]["content"]["reason"] == "cancelled"


def test_a_bound_reached_after_a_task_stops_the_crew_before_the_next(
    api: httpx.Client, make_user_id: Any, llm: LlmServer
) -> None:
    _, headers = user_headers(api, make_user_id, llm)
    llm.script.then(Text("Facts.", input_tokens=100, output_tokens=10), Text("never asked"))

    _, run_id = start(api, headers, {**PAIR, "termination": {"max_messages": 1}})
    done = wait(api, headers, run_id)

    assert done["status"] == "succeeded", done
    assert done["output"]["stop_reason"] == "max_messages"
    assert done["output"]["tasks_output"] == [{"task": "research", "agent": "researcher", "output": "Facts."}]
    assert done["progress"]["tasks_done"] == 1 and done["progress"]["tasks_total"] == 2
    assert len(llm.script.received) == 1
    said = messages(api, headers, run_id)
    assert [(m["source"], m["type"]) for m in said] == [
        ("user", "text"),
        ("crew", "handoff"),
        ("researcher", "text"),
        ("crew", "stop"),
    ]
    assert said[-1]["content"]["reason"] == "max_messages"


def _crew_environments() -> list[psutil.Process]:
    interpreter = str(crew_python())
    return [
        process
        for process in psutil.Process().children(recursive=True)
        if process.cmdline()[:1] == [interpreter]
    ]


def test_a_step_killed_mid_task_loses_that_task_only(
    api: httpx.Client, make_user_id: Any, llm: LlmServer
) -> None:
    _, headers = user_headers(api, make_user_id, llm)
    llm.script.then(Text("Facts."), Slow(20, Text("the lost report")), Text("Report."))

    _, run_id = start(api, headers, PAIR)
    deadline = time.monotonic() + 60
    while len(llm.script.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    # The second task is under way: its environment dies (as Lambda's would, out of memory or
    # killed), and the state machine does the step once more.
    for process in _crew_environments():
        process.kill()
    done = wait(api, headers, run_id)

    assert done["status"] == "succeeded", done
    assert [task["output"] for task in done["output"]["tasks_output"]] == ["Facts.", "Report."]
    prompts = [prompt_of(received) for received in llm.script.received]
    assert sum("Research tides" in prompt for prompt in prompts) == 1, "the finished task ran again"
    said = messages(api, headers, run_id)
    assert [(m["source"], m["type"]) for m in said] == [
        ("user", "text"),
        ("crew", "handoff"),
        ("researcher", "text"),
        ("crew", "handoff"),
        ("writer", "text"),
        ("crew", "stop"),
    ]
    # The withdrawn task's handoff had a number of its own, which is never given again.
    seqs = [m["seq"] for m in said]
    assert seqs[3] == seqs[2] + 2

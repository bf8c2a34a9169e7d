"""Workflow runs step by step: nodes, tools, branches, people, failures, cancel, time budgets."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from auralink.agents.runs.models import RunStatus
from auralink.agents.workflows.models import WorkflowRequest
from auralink.agents.workflows.service import delete_workflow, update_workflow
from auralink.auth import Identity
from auralink.db import tenant_transaction
from tests.fakes.openai_server import Calls, Fail, Slow, Text
from tests.integration.agents.langgraph.conftest import run_to_end, step
from tests.support.runs import StepDied, outcome_lost, read_run, request_cancel


def node_events(run: dict) -> list[tuple[str, str]]:
    return [(event["type"], event["node"]) for event in run["events"] if event["type"].startswith("node_")]


def prompts(model) -> list[str]:
    return [request.body["messages"][-1]["content"] or "" for request in model.script.received]


THREE_NODES = {
    "entry": "plan",
    "nodes": [
        {"id": "plan", "kind": "llm", "prompt": "Plan how to compute {input.question}"},
        {
            "id": "work",
            "kind": "agent",
            "instructions": "Follow the plan: {outputs.plan}",
            "prompt": "{input.question}",
            "tools": ["calculator", "mcp:tools/add"],
        },
        {"id": "report", "kind": "llm", "prompt": "Write up: {outputs.work}"},
    ],
    "edges": [
        {"from": "plan", "to": "work"},
        {"from": "work", "to": "report"},
        {"from": "report", "to": "END"},
    ],
}


def test_three_nodes_with_an_agent_using_the_calculator_and_an_mcp_tool(
    user, start, model, connect_server, stateless_mcp
):
    connect_server(user, "custom", endpoint=stateless_mcp.url, name="tools")
    model.script.then(
        Text("Multiply, then add.", input_tokens=20, output_tokens=5),
        Calls([("calculator", {"expression": "6*7"}), ("mcp__tools__add", {"a": 40, "b": 2})]),
        Text("Both give 42."),
        Text("Report: 42.", input_tokens=30, output_tokens=4),
    )
    run_id = start(user, THREE_NODES, {"question": "6 times 7"})

    assert run_to_end(run_id, user) == ["succeeded"]

    run = read_run(user, run_id)
    assert run["output"]["result"] == "Report: 42."
    assert run["output"]["outputs"]["work"] == "Both give 42."
    assert node_events(run) == [
        ("node_started", "plan"),
        ("node_finished", "plan"),
        ("node_started", "work"),
        ("node_finished", "work"),
        ("node_started", "report"),
        ("node_finished", "report"),
    ]
    assert run["progress"] == {"steps_done": 3, "current_node": None}
    tool_events = [event for event in run["events"] if event["type"] == "tool_called"]
    assert [(e["node"], e["tool"], e["status"]) for e in tool_events] == [
        ("work", "calculator", "success"),
        ("work", "mcp:tools/add", "success"),
    ]
    kinds = [event["type"] for event in run["events"]]
    assert kinds.index("tool_called") > kinds.index("node_started", 2)
    assert prompts(model)[0] == "Plan how to compute 6 times 7"
    agent_turn = model.script.received[1].body
    assert {tool["function"]["name"] for tool in agent_turn["tools"]} == {"calculator", "mcp__tools__add"}
    assert agent_turn["messages"][0] == {"role": "system", "content": "Follow the plan: Multiply, then add."}
    tool_results = [m for m in model.script.received[2].body["messages"] if m["role"] == "tool"]
    assert tool_results[0]["content"] == "42"
    assert json.loads(tool_results[1]["content"]) == {"sum": 42.0}
    with tenant_transaction(user) as conn:
        calls = conn.execute(
            "SELECT tool, status FROM agent_tool_calls WHERE run_id = %s ORDER BY created_at", (run_id,)
        ).fetchall()
        llm = conn.execute(
            "SELECT count(*) AS calls, sum(input_tokens) AS tokens"
            " FROM llm_performance_metrics WHERE run_id = %s",
            (run_id,),
        ).fetchone()
        mcp_ops = conn.execute(
            "SELECT count(*) AS n FROM mcp_operation_logs WHERE operation = 'call_tool' AND tool = 'add'"
        ).fetchone()
    assert [(c["tool"], c["status"]) for c in calls] == [
        ("calculator", "success"),
        ("mcp:tools/add", "success"),
    ]
    assert llm["calls"] == 4 and llm["tokens"] >= 50
    assert mcp_ops["n"] == 1


BRANCHING = {
    "entry": "classify",
    "nodes": [
        {"id": "classify", "kind": "llm", "prompt": "Classify: {input.message}"},
        {
            "id": "route",
            "kind": "condition",
            "branches": [{"when": "contains(lower(outputs.classify), 'refund')", "to": "refund"}],
            "default": "other",
        },
        {"id": "refund", "kind": "llm", "prompt": "Draft a refund for: {input.message}"},
        {"id": "other", "kind": "llm", "prompt": "Answer: {input.message}"},
    ],
    "edges": [
        {"from": "classify", "to": "route"},
        {"from": "refund", "to": "END"},
        {"from": "other", "to": "END"},
    ],
}


def test_a_condition_sends_the_run_down_one_branch(user, start, model):
    model.script.then(Text("REFUND request"), Text("Refund drafted."))
    run_id = start(user, BRANCHING, {"message": "I want my money back"})

    assert run_to_end(run_id, user) == ["succeeded"]

    run = read_run(user, run_id)
    assert run["output"]["result"] == "Refund drafted."
    assert run["output"]["outputs"]["route"] == "refund"
    assert "other" not in run["output"]["outputs"]
    assert prompts(model) == ["Classify: I want my money back", "Draft a refund for: I want my money back"]


WITH_A_PERSON = {
    "entry": "draft",
    "nodes": [
        {"id": "draft", "kind": "llm", "prompt": "Draft a reply to {input.customer}"},
        {
            "id": "approve",
            "kind": "human",
            "prompt": "Send this? {outputs.draft}",
            "input_schema": {
                "type": "object",
                "properties": {"approved": {"type": "boolean"}, "note": {"type": "string"}},
                "required": ["approved"],
            },
        },
        {
            "id": "decide",
            "kind": "condition",
            "branches": [{"when": "outputs.approve.approved", "to": "send"}],
            "default": "END",
        },
        {"id": "send", "kind": "llm", "prompt": "Polish ({outputs.approve.note}): {outputs.draft}"},
    ],
    "edges": [
        {"from": "draft", "to": "approve"},
        {"from": "approve", "to": "decide"},
        {"from": "send", "to": "END"},
    ],
}


def answer(user: str, run_id: str, value) -> None:
    """What POST /runs/{id}/resume stores (its API is tested with the runs API)."""
    with tenant_transaction(user) as conn:
        conn.execute(
            "UPDATE workflow_executions SET status = 'running',"
            " resume_input = jsonb_build_object('value', %s::jsonb) WHERE id = %s::uuid",
            (json.dumps(value), run_id),
        )


def test_a_human_node_pauses_the_run_and_its_answer_resumes_it(user, start, model):
    model.script.then(Text("Dear Ada, ..."), Text("Dear Ada, polished."))
    run_id = start(user, WITH_A_PERSON, {"customer": "Ada"})

    assert run_to_end(run_id, user) == ["waiting_for_input"]
    waiting = read_run(user, run_id)
    assert waiting["progress"]["current_node"] == "approve"
    assert waiting["progress"]["waiting_for"] == {
        "node": "approve",
        "prompt": "Send this? Dear Ada, ...",
        "input_schema": WITH_A_PERSON["nodes"][1]["input_schema"],
    }
    assert len(model.script.received) == 1

    answer(user, run_id, {"approved": True, "note": "warmer"})
    assert run_to_end(run_id, user) == ["succeeded"]

    run = read_run(user, run_id)
    assert run["output"]["result"] == "Dear Ada, polished."
    assert run["output"]["outputs"]["approve"] == {"approved": True, "note": "warmer"}
    assert prompts(model) == ["Draft a reply to Ada", "Polish (warmer): Dear Ada, ..."]
    assert [n for t, n in node_events(run) if t == "node_finished"] == ["draft", "approve", "decide", "send"]
    assert [event["type"] for event in run["events"] if event["node"] == "approve"] == [
        "node_started",
        "waiting_for_input",
        "node_resumed",
        "node_finished",
    ]
    assert run["resume_input"] is None


def test_a_declined_answer_takes_the_other_way(user, start, model):
    model.script.then(Text("Dear Bo"))
    run_id = start(user, WITH_A_PERSON, {"customer": "Bo"})
    run_to_end(run_id, user)

    answer(user, run_id, {"approved": False})

    assert run_to_end(run_id, user) == ["succeeded"]
    assert read_run(user, run_id)["output"]["result"] == {"approved": False}
    assert len(model.script.received) == 1


TWO_QUESTIONS = {
    "entry": "ask",
    "nodes": [
        {"id": "ask", "kind": "human", "prompt": "Which city?", "input_schema": {"type": "string"}},
        {
            "id": "confirm",
            "kind": "human",
            "prompt": "Really {outputs.ask}?",
            "input_schema": {"type": "string"},
        },
        {"id": "write", "kind": "llm", "prompt": "Write about {outputs.ask} ({outputs.confirm})"},
    ],
    "edges": [
        {"from": "ask", "to": "confirm"},
        {"from": "confirm", "to": "write"},
        {"from": "write", "to": "END"},
    ],
}


def _step_that_dies(run_id: str, user: str) -> None:
    with outcome_lost(), pytest.raises(StepDied):
        step(run_id, user)


def test_an_answer_is_never_given_to_the_question_after_it_when_a_step_is_done_again(user, start, model):
    model.script.then(Text("Lisbon, yes."))
    run_id = start(user, TWO_QUESTIONS, {})
    assert run_to_end(run_id, user) == ["waiting_for_input"]
    answer(user, run_id, "Lisbon")

    # The answer is taken, the next question asked and saved; the step dies before the run
    # records that it waits, and is done again.
    _step_that_dies(run_id, user)
    assert run_to_end(run_id, user) == ["waiting_for_input"]
    waiting = read_run(user, run_id)
    assert waiting["progress"]["waiting_for"]["prompt"] == "Really Lisbon?"

    answer(user, run_id, "sure")
    assert run_to_end(run_id, user) == ["succeeded"]
    assert read_run(user, run_id)["output"]["outputs"] == {
        "ask": "Lisbon",
        "confirm": "sure",
        "write": "Lisbon, yes.",
    }
    assert prompts(model) == ["Write about Lisbon (sure)"]


def test_a_step_that_dies_after_the_run_ended_is_done_again_without_running_a_node(user, start, model):
    model.script.then(Text("1"), Text("2"))
    run_id = start(user, TWO_STEPS, {})

    _step_that_dies(run_id, user)
    assert run_to_end(run_id, user) == ["succeeded"]

    assert read_run(user, run_id)["output"]["result"] == "2"
    assert prompts(model) == ["one", "two: 1"]


TWO_STEPS = {
    "entry": "first",
    "nodes": [
        {"id": "first", "kind": "llm", "prompt": "one"},
        {"id": "second", "kind": "llm", "prompt": "two: {outputs.first}"},
    ],
    "edges": [{"from": "first", "to": "second"}, {"from": "second", "to": "END"}],
}


def test_a_step_near_its_time_budget_stops_between_nodes_and_the_next_goes_on(user, start, model):
    model.script.then(Slow(1.5, Text("A")), Text("B"))
    run_id = start(user, TWO_STEPS)

    # 3 s of budget after the safety margin: the first node's call ends with less than half of it
    # left, so the second does not start; 1.5 s are left for the step's own work on a loaded machine.
    first = step(run_id, user, remaining_ms=13_000)
    halfway = read_run(user, run_id)
    second = step(run_id, user)

    assert (first.status, second.status) == (RunStatus.RUNNING, RunStatus.SUCCEEDED)
    assert halfway["progress"] == {"steps_done": 1, "current_node": "second"}
    run = read_run(user, run_id)
    assert run["output"]["result"] == "B" and run["steps_done"] == 2
    assert prompts(model) == ["one", "two: A"]


def test_a_cancel_requested_during_a_node_stops_the_run_before_the_next(user, start, model):
    model.script.then(Slow(1.0, Text("A")), Text("never"))
    run_id = start(user, TWO_STEPS)
    threading.Timer(0.3, request_cancel, args=(user, run_id)).start()

    assert step(run_id, user).status == RunStatus.CANCELLED

    assert len(model.script.received) == 1
    assert node_events(read_run(user, run_id)) == [("node_started", "first"), ("node_finished", "first")]


def test_a_failing_model_fails_the_run_with_its_reason(user, start, model):
    model.script.then(Text("A"), Fail(500), Fail(500), Fail(500))
    run_id = start(user, TWO_STEPS)

    assert run_to_end(run_id, user) == ["failed"]

    run = read_run(user, run_id)
    assert run["error"]["code"] == "llm_server_error"
    assert run["output"] is None
    with tenant_transaction(user) as conn:
        rows = conn.execute(
            "SELECT status, error_code FROM llm_performance_metrics WHERE run_id = %s ORDER BY created_at",
            (run_id,),
        ).fetchall()
    assert [(r["status"], r["error_code"]) for r in rows] == [
        ("success", None),
        ("error", "llm_server_error"),
    ]


def test_a_model_that_retired_after_the_workflow_was_saved_fails_the_run_naming_its_successor(
    user, start, model, owner_conn
):
    name = f"retiring-{uuid.uuid4().hex[:8]}"
    owner_conn.execute(
        "INSERT INTO llm_models (provider_id, name, display_name, context_window, input_price_per_mtok,"
        " output_price_per_mtok, supports_tools, capabilities, successor) SELECT id, %s, 'Retiring',"
        " 128000, 1, 1, true, '{chat,tools}', 'openai/gpt-5.4' FROM llm_providers WHERE name = 'openai'",
        (name,),
    )
    try:
        definition = {
            "entry": "greet",
            "nodes": [{"id": "greet", "kind": "llm", "prompt": "Hello", "model": f"openai/{name}"}],
            "edges": [{"from": "greet", "to": "END"}],
        }
        run_id = start(user, definition)
        owner_conn.execute(
            "UPDATE llm_models SET retires_on = (now() AT TIME ZONE 'UTC')::date WHERE name = %s", (name,)
        )

        assert run_to_end(run_id, user) == ["failed"]
    finally:
        owner_conn.execute("DELETE FROM llm_models WHERE name = %s", (name,))

    error = read_run(user, run_id)["error"]
    assert error["code"] == "model_retired" and "use openai/gpt-5.4 instead" in error["message"]
    assert model.script.received == []


def test_a_failing_tool_node_fails_the_run(user, start, model):
    definition = {
        "entry": "calc",
        "nodes": [
            {"id": "calc", "kind": "tool", "tool": "calculator", "arguments": {"expression": "{input.x} / 0"}}
        ],
        "edges": [{"from": "calc", "to": "END"}],
    }
    run_id = start(user, definition, {"x": 1})

    assert run_to_end(run_id, user) == ["failed"]
    error = read_run(user, run_id)["error"]
    assert error["code"] == "division_by_zero" and "calc" in error["message"]


def test_a_tool_node_passes_rendered_arguments_and_keeps_structured_results(user, start, model):
    definition = {
        "entry": "calc",
        "nodes": [
            {
                "id": "calc",
                "kind": "tool",
                "tool": "calculator",
                "arguments": {"expression": "{input.x} * 2"},
            },
            {"id": "say", "kind": "llm", "prompt": "The answer is {outputs.calc.result}"},
        ],
        "edges": [{"from": "calc", "to": "say"}, {"from": "say", "to": "END"}],
    }
    model.script.then(Text("done"))
    run_id = start(user, definition, {"x": 21})

    assert run_to_end(run_id, user) == ["succeeded"]
    assert prompts(model) == ["The answer is 42"]


def test_the_run_model_applies_where_a_node_names_none(user, start, model):
    model.script.then(Text("A"), Text("B"))
    run_id = start(user, TWO_STEPS, model="openai/gpt-5.4")

    run_to_end(run_id, user)

    assert [request.body["model"] for request in model.script.received] == ["gpt-5.4", "gpt-5.4"]


def test_checkpoints_are_the_owners_alone_and_go_when_the_run_ends(user, start, model, make_user_id):
    model.script.then(Text("Dear Cy"))
    run_id = start(user, WITH_A_PERSON, {"customer": "Cy"})
    run_to_end(run_id, user)

    with tenant_transaction(user) as conn:
        mine = conn.execute(
            "SELECT count(*) AS n FROM checkpoints WHERE thread_id = %s", (run_id,)
        ).fetchone()["n"]
    with tenant_transaction(make_user_id()) as conn:
        theirs = conn.execute("SELECT count(*) AS n FROM checkpoints").fetchone()["n"]
    assert mine > 0 and theirs == 0

    answer(user, run_id, {"approved": False})
    run_to_end(run_id, user)
    with tenant_transaction(user) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM checkpoints WHERE thread_id = %(r)s)"
            " + (SELECT count(*) FROM checkpoint_blobs WHERE thread_id = %(r)s)"
            " + (SELECT count(*) FROM checkpoint_writes WHERE thread_id = %(r)s) AS n",
            {"r": run_id},
        ).fetchone()["n"]
    assert left == 0


def test_a_run_keeps_the_definition_it_started_with(user, start, model):
    model.script.then(Text("Dear Di"), Text("polished"))
    run_id = start(user, WITH_A_PERSON, {"customer": "Di"})
    run_to_end(run_id, user)
    workflow_id = read_run(user, run_id)["workflow_id"]
    update_workflow(Identity(sub=user), workflow_id, WorkflowRequest(name="changed", definition=TWO_STEPS))

    answer(user, run_id, {"approved": True, "note": "n"})

    assert run_to_end(run_id, user) == ["succeeded"]
    assert read_run(user, run_id)["output"]["result"] == "polished"


def test_a_run_whose_workflow_is_gone_fails_clearly(user, start, model):
    run_id = start(user, TWO_STEPS)
    delete_workflow(Identity(sub=user), read_run(user, run_id)["workflow_id"])

    assert run_to_end(run_id, user) == ["failed"]
    assert read_run(user, run_id)["error"]["code"] == "workflow_not_found"


def chain_of_tools(length: int) -> dict:
    ids = [f"n{i}" for i in range(length)]
    return {
        "entry": ids[0],
        "nodes": [
            {"id": node, "kind": "tool", "tool": "calculator", "arguments": {"expression": f"{i} + 1"}}
            for i, node in enumerate(ids)
        ],
        "edges": [{"from": a, "to": b} for a, b in zip(ids, [*ids[1:], "END"], strict=True)],
    }


def test_a_long_workflow_runs_in_one_step(user, start):
    run_id = start(user, chain_of_tools(40))

    assert run_to_end(run_id, user) == ["succeeded"]
    run = read_run(user, run_id)
    assert run["progress"]["steps_done"] == 40 and run["output"]["result"] == {"result": 40}


def test_a_loop_that_never_exits_is_stopped_at_the_node_limit(user, start, monkeypatch):
    monkeypatch.setattr("auralink.agents.langgraph.executor.MAX_NODES_PER_RUN", 30)
    looping = {
        "entry": "count",
        "nodes": [
            {"id": "count", "kind": "tool", "tool": "calculator", "arguments": {"expression": "1 + 1"}},
            {
                "id": "again",
                "kind": "condition",
                "branches": [{"when": "true", "to": "count"}],
                "default": "END",
            },
        ],
        "edges": [{"from": "count", "to": "again"}],
    }
    run_id = start(user, looping)

    assert run_to_end(run_id, user) == ["failed"]
    run = read_run(user, run_id)
    assert run["error"]["code"] == "node_limit_exceeded"
    assert 25 <= run["progress"]["steps_done"] <= 30


def test_progress_shows_each_node_while_the_step_is_still_working(user, start, model):
    model.script.then(Text("A"), Slow(1.5, Text("B")))
    run_id = start(user, TWO_STEPS)
    seen: list[tuple[int, str | None, list]] = []

    def watch() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            run = read_run(user, run_id)
            progress = run["progress"]
            seen.append((progress.get("steps_done", 0), progress.get("current_node"), node_events(run)))
            if run["status"] != "queued" and progress.get("current_node") == "second":
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert step(run_id, user).status == RunStatus.SUCCEEDED
    watcher.join()

    steps_done, current, events = seen[-1]
    assert (steps_done, current) == (1, "second")
    assert events == [("node_started", "first"), ("node_finished", "first"), ("node_started", "second")]
    final = read_run(user, run_id)
    assert final["progress"] == {"steps_done": 2, "current_node": None}
    assert [n for t, n in node_events(final) if t == "node_finished"] == ["first", "second"]

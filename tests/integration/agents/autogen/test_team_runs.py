"""AutoGen team runs, stepped as the state machine steps them."""

from __future__ import annotations

import json
import threading
import time
from uuid import UUID

import pytest

from auralink.agents.runs import repository
from auralink.db import tenant_transaction
from tests.fakes.openai_server import Calls, Fail, Slow, Text
from tests.integration.agents.autogen.conftest import KEY, member, messages, run_to_end, start_team, step
from tests.support.runs import StepDied, outcome_lost, read_run, request_cancel

# A step's time (2.2 s once the step's safety margin is kept back) that leaves room for one turn
# of a model that takes TURN_S, and no more: a second turn would start with less than half the
# step left. A second left over for the step's own work, which a loaded machine slows.
TURN_S = 1.2
ONE_TURN_MS = 12_200


def _framework_of(output: str, metric: str) -> list[str]:
    """The `framework` dimension of each EMF document printed with ``metric``."""
    documents = [
        json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line
    ]
    return [document.get("framework") for document in documents if metric in document]


def test_a_round_robin_of_three_runs_to_max_messages(user, model, capsys):
    run_id = start_team(
        user,
        {
            "collaboration_mode": "round_robin",
            "members": [member("planner"), member("critic"), member("writer")],
            "termination": {"max_messages": 4},
        },
    )

    assert run_to_end(run_id, user) == ["succeeded"]

    said = messages(user, run_id)
    assert [(m["source"], m["type"]) for m in said] == [
        ("user", "text"),
        ("planner", "text"),
        ("critic", "text"),
        ("writer", "text"),
        ("planner", "text"),
        ("team", "stop"),
    ]
    assert [m["seq"] for m in said] == [1, 2, 3, 4, 5, 6]
    assert said[-1]["content"]["reason"] == "max_messages"
    run = read_run(user, run_id)
    assert run["output"]["stop_reason"] == "max_messages"
    assert run["output"]["final_message"]["source"] == "planner"
    assert run["progress"]["messages"] == 4
    assert len(model.script.received) == 4
    printed = capsys.readouterr().out
    assert _framework_of(printed, "AgentExecutions") == ["autogen"]
    assert _framework_of(printed, "TeamConversations") == ["autogen"]


def said_by(rows):
    return [(m["source"], m["type"]) for m in rows]


def test_the_task_and_its_context_reach_the_first_member(user, model):
    run_id = start_team(
        user,
        {
            "collaboration_mode": "round_robin",
            "members": [member("a"), member("b")],
            "termination": {"max_messages": 1},
        },
        task="Audit the gateway",
        context={"focus_areas": ["security"]},
    )

    assert run_to_end(run_id, user) == ["succeeded"]

    first = model.script.received[0].body["messages"]
    assert first[0]["role"] == "system" and "a, a member" in first[0]["content"]
    assert (
        first[-1]["content"]
        == 'Audit the gateway\n\nAdditional context (JSON):\n{"focus_areas": ["security"]}'
    )


def test_a_selector_team_lets_the_model_choose_each_speaker(user, model):
    model.script.then(
        Text("critic"),
        Text("The plan lacks shade.", input_tokens=20, output_tokens=6),
        Text("planner"),
        Text("Bring an umbrella."),
    )
    run_id = start_team(
        user,
        {
            "collaboration_mode": "selector",
            "members": [member("planner"), member("critic"), member("host")],
            "termination": {"max_messages": 2},
        },
    )

    assert run_to_end(run_id, user) == ["succeeded"]

    said = messages(user, run_id)
    assert said_by(said) == [("user", "text"), ("critic", "text"), ("planner", "text"), ("team", "stop")]
    assert said[1]["content"] == "The plan lacks shade."
    assert said[1]["usage"] == {"input_tokens": 20, "output_tokens": 6}
    # Four model calls, the selector's among them, all recorded against the run.
    assert len(model.script.received) == 4
    with tenant_transaction(user) as conn:
        calls = conn.execute(
            "SELECT count(*) AS n FROM llm_performance_metrics WHERE run_id = %s::uuid", (run_id,)
        ).fetchone()
    assert calls["n"] == 4


def test_a_swarm_hands_off_to_the_person_waits_and_resumes_with_the_answer(user, model):
    model.script.then(
        Calls([("transfer_to_expert", {})], content="The expert knows budgets."),
        Calls([("transfer_to_user", {})], content="What is your budget?"),
        Text("Within 100 EUR: a park picnic."),
    )
    run_id = start_team(
        user,
        {
            "collaboration_mode": "swarm",
            "members": [member("host", handoffs=["expert"]), member("expert", handoffs=["host", "user"])],
            "termination": {"max_messages": 3},
        },
    )

    assert run_to_end(run_id, user) == ["waiting_for_input"]

    run = read_run(user, run_id)
    assert run["progress"]["waiting_for"] == {
        "node": "expert",
        "prompt": "What is your budget?",
        "input_schema": {"type": "string", "minLength": 1},
    }
    handoffs = [m["content"]["target"] for m in messages(user, run_id) if m["type"] == "handoff"]
    assert handoffs == ["expert", "user"]

    with tenant_transaction(user) as conn:
        repository.mark_resumed(conn, UUID(run_id), "100 EUR")
    assert run_to_end(run_id, user) == ["succeeded"]

    said = messages(user, run_id)
    assert said_by(said)[-3:] == [("user", "handoff"), ("expert", "text"), ("team", "stop")]
    assert said[-3]["content"] == {"target": "expert", "message": "100 EUR"}
    assert said[-2]["content"] == "Within 100 EUR: a park picnic."
    answered = model.script.received[2].body["messages"]
    assert any(m["role"] == "user" and m["content"] == "100 EUR" for m in answered)
    assert read_run(user, run_id)["output"]["stop_reason"] == "max_messages"


def test_a_step_that_dies_before_its_outcome_is_recorded_ends_the_same_way_once_more(user, model):
    model.script.then(
        Calls([("transfer_to_expert", {})], content="The expert knows budgets."),
        Calls([("transfer_to_user", {})], content="What is your budget?"),
        Calls([("transfer_to_user", {})], content="Indoors or outdoors?"),
    )
    run_id = start_team(
        user,
        {
            "collaboration_mode": "swarm",
            "members": [member("host", handoffs=["expert"]), member("expert", handoffs=["host", "user"])],
            "termination": {"max_messages": 6},
        },
    )

    def step_that_dies() -> None:
        with outcome_lost(), pytest.raises(StepDied):
            run_to_end(run_id, user)

    # Each step saves its turn and dies before the run records that it waits: the state machine
    # does it once more, which waits with the same question, asking no model.
    step_that_dies()
    assert run_to_end(run_id, user) == ["waiting_for_input"]
    assert read_run(user, run_id)["progress"]["waiting_for"]["prompt"] == "What is your budget?"
    assert len(model.script.received) == 2

    with tenant_transaction(user) as conn:
        repository.mark_resumed(conn, UUID(run_id), "100 EUR")
    step_that_dies()
    assert run_to_end(run_id, user) == ["waiting_for_input"]
    assert read_run(user, run_id)["progress"]["waiting_for"]["prompt"] == "Indoors or outdoors?"
    assert len(model.script.received) == 3, "the answer was given twice"
    said = messages(user, run_id)
    assert [m["content"]["message"] for m in said if m["source"] == "user" and m["type"] == "handoff"] == [
        "100 EUR"
    ]
    assert not [m for m in said if m["type"] == "stop"]


def test_a_step_that_dies_after_ending_the_conversation_ends_the_run_once(user, model):
    model.script.then(Text("A"), Text("B"))
    run_id = start_team(
        user,
        {
            "collaboration_mode": "round_robin",
            "members": [member("first"), member("second")],
            "termination": {"max_messages": 2},
        },
    )

    with outcome_lost(), pytest.raises(StepDied):
        run_to_end(run_id, user)
    assert run_to_end(run_id, user) == ["succeeded"]

    assert len(model.script.received) == 2
    said = messages(user, run_id)
    assert [m["content"]["reason"] for m in said if m["type"] == "stop"] == ["max_messages"]
    assert read_run(user, run_id)["output"]["final_message"] == {"source": "second", "content": "B"}
    with tenant_transaction(user) as conn:
        kept = conn.execute("SELECT state FROM team_conversations WHERE run_id = %s", (run_id,)).fetchone()
    assert kept["state"] is None  # dropped once the run's end is recorded


def test_a_graph_follows_the_branch_whose_condition_the_message_meets(user, model):
    model.script.then(Text("This is for route B"), Text("b handled it"))
    run_id = start_team(
        user,
        {
            "collaboration_mode": "graph",
            "members": [member("triage"), member("a"), member("b")],
            "edges": [
                {"from": "triage", "to": "a", "condition": "route A"},
                {"from": "triage", "to": "b", "condition": "route B"},
            ],
        },
    )

    assert run_to_end(run_id, user) == ["succeeded"]

    said = messages(user, run_id)
    assert said_by(said) == [("user", "text"), ("triage", "text"), ("b", "text"), ("team", "stop")]
    assert read_run(user, run_id)["output"] == {
        "final_message": {"source": "b", "content": "b handled it"},
        "stop_reason": "graph_complete",
        "messages": 2,
    }


def test_a_graph_loop_goes_round_again_across_steps(user, model):
    # One turn per step (a small time budget): the loop's bookkeeping must survive each reload.
    replies = ["draft 1", "REVISE it", "draft 2", "APPROVE", "published"]
    model.script.then(*(Slow(TURN_S, Text(reply)) for reply in replies))
    run_id = start_team(
        user,
        {
            "collaboration_mode": "graph",
            "entry": "writer",
            "members": [member("writer"), member("reviewer"), member("publisher")],
            "edges": [
                {"from": "writer", "to": "reviewer"},
                {"from": "reviewer", "to": "writer", "condition": "REVISE"},
                {"from": "reviewer", "to": "publisher", "condition": "APPROVE"},
            ],
        },
    )

    statuses = [step(run_id, user, remaining_ms=ONE_TURN_MS).status.value for _ in range(5)]

    assert statuses == ["running"] * 4 + ["succeeded"]
    speakers = [m["source"] for m in messages(user, run_id) if m["type"] == "text"]
    assert speakers == ["user", "writer", "reviewer", "writer", "reviewer", "publisher"]


def test_members_call_the_calculator_and_a_tool_of_an_mcp_server(user, model, connect_server, stateless_mcp):
    connect_server(user, "custom", endpoint=stateless_mcp.url, name="tools")
    model.script.then(
        Calls([("calculator", {"expression": "6*7"}), ("mcp__tools__add", {"a": 40, "b": 2})]),
        Text("Both give 42."),
    )
    run_id = start_team(
        user,
        {
            "collaboration_mode": "round_robin",
            "members": [member("math", tools=["calculator", "mcp:tools/add"]), member("b")],
            "termination": {"max_messages": 1},
        },
    )

    assert run_to_end(run_id, user) == ["succeeded"]

    said = messages(user, run_id)
    assert said_by(said) == [
        ("user", "text"),
        ("math", "tool_call"),
        ("math", "tool_result"),
        ("math", "text"),
        ("team", "stop"),
    ]
    assert [(c["tool"], c["arguments"]) for c in said[1]["content"]] == [
        ("calculator", {"expression": "6*7"}),
        ("mcp:tools/add", {"a": 40, "b": 2}),
    ]
    results = said[2]["content"]
    assert [(r["tool"], r["is_error"]) for r in results] == [("calculator", False), ("mcp:tools/add", False)]
    assert results[0]["content"] == "42"
    tools = {t["function"]["name"] for t in model.script.received[0].body["tools"]}
    assert tools == {"calculator", "mcp__tools__add"}
    with tenant_transaction(user) as conn:
        recorded = conn.execute(
            "SELECT tool, status FROM agent_tool_calls WHERE run_id = %s::uuid ORDER BY created_at", (run_id,)
        ).fetchall()
    assert [(r["tool"], r["status"]) for r in recorded] == [
        ("calculator", "success"),
        ("mcp:tools/add", "success"),
    ]


def test_a_failing_tool_is_an_error_result_the_member_reads(user, model):
    model.script.then(Calls([("calculator", {"expression": "1/"})]), Text("The expression was broken."))
    run_id = start_team(
        user,
        {
            "collaboration_mode": "round_robin",
            "members": [member("math", tools=["calculator"])],
            "termination": {"max_messages": 1},
        },
    )

    assert run_to_end(run_id, user) == ["succeeded"]

    result = next(m for m in messages(user, run_id) if m["type"] == "tool_result")["content"][0]
    assert result["is_error"] is True and result["content"].startswith("Error (")
    tool_message = next(m for m in model.script.received[1].body["messages"] if m["role"] == "tool")
    assert tool_message["content"].startswith("Error (")


def test_a_failing_model_fails_the_run_with_the_gateways_code(user, model):
    model.script.then(Text("fine"), Fail(400, "the model is gone"))
    run_id = start_team(
        user,
        {"collaboration_mode": "round_robin", "members": [member("a"), member("b")]},
    )

    assert run_to_end(run_id, user) == ["failed"]

    run = read_run(user, run_id)
    assert run["error"]["code"].startswith("llm_")
    said = messages(user, run_id)
    assert said_by(said) == [("user", "text"), ("a", "text"), ("team", "stop")]
    assert said[-1]["content"]["reason"] == "error" and said[-1]["content"]["code"] == run["error"]["code"]
    assert KEY not in json.dumps(run["error"])


def test_a_cancel_while_a_turn_runs_ends_the_run_after_that_turn(user, model):
    model.script.then(Slow(1.0, Text("first answer")))
    run_id = start_team(user, {"collaboration_mode": "round_robin", "members": [member("a"), member("b")]})
    outcome: list[str] = []
    stepping = threading.Thread(target=lambda: outcome.append(step(run_id, user).status.value))
    stepping.start()
    deadline = time.monotonic() + 10
    while not model.script.received:
        assert time.monotonic() < deadline
        time.sleep(0.02)

    request_cancel(user, run_id)
    stepping.join(timeout=30)

    assert outcome == ["cancelled"]
    said = messages(user, run_id)
    assert said_by(said) == [("user", "text"), ("a", "text"), ("team", "stop")]
    assert said[-1]["content"]["reason"] == "cancelled"
    assert len(model.script.received) == 1


def test_the_cost_bound_stops_a_run_between_turns(user, model):
    model.script.then(Text("expensive", input_tokens=2_000_000, output_tokens=10))
    run_id = start_team(
        user,
        {
            "collaboration_mode": "round_robin",
            "members": [member("a"), member("b")],
            "termination": {"max_cost_usd": 0.01},
        },
    )

    assert run_to_end(run_id, user) == ["succeeded"]

    assert read_run(user, run_id)["output"]["stop_reason"] == "max_cost"
    assert len(model.script.received) == 1


def test_a_text_mention_ends_the_run(user, model):
    model.script.then(Text("working"), Text("All set. TERMINATE"))
    run_id = start_team(
        user,
        {
            "collaboration_mode": "round_robin",
            "members": [member("a"), member("b")],
            "termination": {"text_mention": "TERMINATE"},
        },
    )

    assert run_to_end(run_id, user) == ["succeeded"]

    assert read_run(user, run_id)["output"]["stop_reason"] == "text_mention"
    assert len(model.script.received) == 2

"""AutoGen team runs, stepped as the state machine steps them."""

from __future__ import annotations

from tests.integration.agents.autogen.conftest import member, messages, run_to_end, start_team
from tests.support.runs import read_run


def test_a_round_robin_of_three_runs_to_max_messages(user, model):
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

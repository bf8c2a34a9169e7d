"""A pipeline's team step: a child run of an AutoGen team, its members answered by the model double,
waited for across the pipeline's steps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from auralink.agents.autogen.executor import FRAMEWORK as AUTOGEN
from auralink.agents.autogen.executor import AutoGenExecutor
from tests.fakes.openai_server import Text
from tests.integration.pipelines.conftest import (
    Api,
    create_pipeline,
    get_run,
    prefect_view,
    run_to_end,
    started,
    step,
    tool_calls,
)
from tests.support.runs import executor_in_place


@pytest.fixture
def autogen() -> Iterator[AutoGenExecutor]:
    with executor_in_place(AUTOGEN, AutoGenExecutor()) as executor:
        yield executor


def runs_of_team(api: Api, user: str, team_id: str) -> list[dict[str, Any]]:
    status, page = api("RunsListRunsFunction", user)
    assert status == 200, page
    return [run for run in page["runs"] if run["team_id"] == team_id]


def test_a_team_step_waits_for_its_team_run_gives_its_final_message_on_and_counts_its_cost(
    api, execute, owner, llm_server, autogen, prefect_server
):
    status, team = api(
        "CreateTeamFunction",
        owner,
        body={
            "team_name": "writers",
            "collaboration_mode": "round_robin",
            "members": [
                {"name": "writer", "description": "Writes the first draft"},
                {"name": "editor", "description": "Polishes the draft"},
            ],
            "termination": {"text_mention": "TERMINATE"},
        },
    )
    assert status == 201, team
    llm_server.script.then(
        Text("A draft about 42", input_tokens=30, output_tokens=10),
        Text("42, polished. TERMINATE", input_tokens=40, output_tokens=5),
    )
    pipeline_id = create_pipeline(
        api,
        owner,
        {
            "steps": [
                {"id": "a", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}},
                {
                    "id": "write",
                    "kind": "team",
                    "depends_on": ["a"],
                    "team_id": team["team_id"],
                    "task_description": "Write about {steps.a.output.result}",
                    "additional_context": {"pipeline": "{parameters.name}"},
                },
                {
                    "id": "publish",
                    "kind": "mcp_tool",
                    "connection": "tools",
                    "tool": "echo",
                    "depends_on": ["write"],
                    "arguments": {"text": "Published: {steps.write.output.final_message.content}"},
                },
            ]
        },
    )
    run_id = started(execute, owner, pipeline_id, {"name": "weekly"})

    # The first step starts the team run and waits for it: the pipeline goes on in a later step.
    assert step(run_id, owner) == "running"
    [child] = runs_of_team(api, owner, team["team_id"])
    assert (child["status"], child["framework"]) == ("queued", "autogen")
    assert run_to_end(child["run_id"], owner) == ["succeeded"]
    assert run_to_end(run_id, owner) == ["succeeded"]

    run = get_run(api, owner, run_id)
    assert run["output"] == {"publish": {"result": "Published: 42, polished. TERMINATE"}}
    assert [(t["step"], t["state"], t["attempts"]) for t in run["task_runs"]] == [
        ("a", "COMPLETED", 1),
        ("write", "COMPLETED", 1),
        ("publish", "COMPLETED", 1),
    ]
    written = next(t for t in run["task_runs"] if t["step"] == "write")["output"]
    assert written["stop_reason"] == "text_mention"
    assert written["final_message"] == {"source": "editor", "content": "42, polished. TERMINATE"}
    # The team was given the rendered task; one team run, each of the two tools called once.
    first_turn = llm_server.script.received[0].body["messages"][-1]["content"]
    assert first_turn.startswith("Write about 42") and '"pipeline": "weekly"' in first_turn
    assert len(runs_of_team(api, owner, team["team_id"])) == 1
    assert sorted(call.tool for call in tool_calls(owner, run_id)) == ["calculator", "mcp:tools/echo"]
    # The team's two model calls, and their cost, count in the pipeline run's usage.
    child_run = get_run(api, owner, child["run_id"])
    assert child_run["usage"]["cost_usd"] > 0
    assert run["usage"] == child_run["usage"]
    usage = run["usage"]
    assert (usage["llm_calls"], usage["input_tokens"], usage["output_tokens"]) == (2, 70, 15)
    flow_run, _ = prefect_view(prefect_server.api_url, run["prefect_flow_run_id"])
    assert flow_run.state.type.value == "COMPLETED"

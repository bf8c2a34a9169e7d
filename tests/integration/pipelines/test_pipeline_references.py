"""What a pipeline's steps name is checked for the caller: MCP connections and their tools (a
server on loopback), the caller's own workflows and teams, and models."""

from __future__ import annotations

from typing import Any

import pytest

WORKFLOW = {
    "entry": "greet",
    "nodes": [{"id": "greet", "kind": "llm", "prompt": "Say hi to {input.name}"}],
    "edges": [{"from": "greet", "to": "END"}],
}


@pytest.fixture
def owner(api, make_user_id, tools_mcp) -> dict[str, str]:
    """A user with a connection named "tools" to the loopback tools server, a workflow and a team."""
    user = make_user_id("owner")
    status, answer = api(
        "McpConnectFunction", user, body={"server_type": "custom", "endpoint": tools_mcp.url, "name": "tools"}
    )
    assert status == 201, answer
    status, workflow = api("CreateWorkflowFunction", user, body={"name": "greeter", "definition": WORKFLOW})
    assert status == 201, workflow
    status, team = api(
        "CreateTeamFunction", user, body={"team_name": "writers", "collaboration_mode": "round_robin"}
    )
    assert status == 201, team
    return {"user": user, "workflow_id": workflow["workflow_id"], "team_id": team["team_id"]}


def composed(owner: dict[str, str]) -> dict[str, Any]:
    """Every kind of step that names something of its user's, the last inside a map."""
    return {
        "steps": [
            {
                "id": "echo",
                "kind": "mcp_tool",
                "connection": "tools",
                "tool": "echo",
                "arguments": {"text": "{parameters.text}"},
            },
            {"id": "sum", "kind": "tool", "tool": "mcp:tools/add", "arguments": {"a": 1, "b": 2}},
            {
                "id": "greet",
                "kind": "workflow",
                "depends_on": ["echo"],
                "workflow_id": owner["workflow_id"],
                "input": {"name": "{steps.echo.output}"},
            },
            {
                "id": "write",
                "kind": "team",
                "depends_on": ["greet"],
                "team_id": owner["team_id"],
                "task_description": "Write about {steps.greet.output}",
                "additional_context": {"tone": "{parameters.tone}"},
            },
            {
                "id": "each",
                "kind": "map",
                "over": "{parameters.names}",
                "concurrency": 3,
                "step": {
                    "kind": "workflow",
                    "workflow_id": owner["workflow_id"],
                    "input": {"name": "{item}"},
                },
            },
            {
                "id": "ask",
                "kind": "llm",
                "depends_on": ["each"],
                "prompt": "{steps.each.output}",
                "model": "openai/gpt-5.4-mini",
            },
        ]
    }


def create(api, user, definition):
    return api("CreatePipelineFunction", user, body={"name": "composed", "definition": definition})


def test_steps_naming_the_users_connection_workflow_and_team_are_accepted(api, owner):
    status, created = create(api, owner["user"], composed(owner))

    assert status == 201, created
    steps = created["definition"]["steps"]
    assert steps[0]["connection"] == "tools" and steps[2]["workflow_id"] == owner["workflow_id"]
    assert steps[3]["additional_context"] == {"tone": "{parameters.tone}"}
    assert steps[4]["step"]["input"] == {"name": "{item}"}


@pytest.mark.parametrize(
    ("step", "changes", "field", "message"),
    [
        (0, {"tool": "teleport"}, "steps[0].tool", "the connection 'tools' has no tool 'teleport'"),
        (0, {"connection": "elsewhere"}, "steps[0].connection", "no MCP connection named 'elsewhere'"),
        (1, {"tool": "mcp:tools/teleport"}, "steps[1].tool", "has no tool 'teleport'"),
        (5, {"model": "openai/gpt-9"}, "steps[5].model", "no model 'openai/gpt-9'"),
    ],
)
def test_unknown_tools_connections_and_models_are_named(api, owner, step, changes, field, message):
    definition = composed(owner)
    definition["steps"][step].update(changes)

    status, answer = create(api, owner["user"], definition)

    assert status == 422
    (detail,) = answer["error"]["details"]
    assert detail["field"] == f"body.definition.{field}" and message in detail["message"]


def test_another_users_connection_workflow_and_team_do_not_count(api, owner, make_user_id):
    status, answer = create(api, make_user_id("stranger"), composed(owner))

    assert status == 422
    assert answer["error"]["details"] == [
        {
            "field": "body.definition.steps[0].connection",
            "message": "no MCP connection named 'tools': connect one with POST /api/v1/mcp/connect",
        },
        {
            "field": "body.definition.steps[1].tool",
            "message": "no MCP connection named 'tools': connect one with POST /api/v1/mcp/connect",
        },
        {"field": "body.definition.steps[2].workflow_id", "message": "no workflow of yours has this id"},
        {"field": "body.definition.steps[3].team_id", "message": "no team of yours has this id"},
        {"field": "body.definition.steps[4].step.workflow_id", "message": "no workflow of yours has this id"},
    ]


def test_a_deleted_workflow_is_refused_at_the_next_save(api, owner):
    assert create(api, owner["user"], composed(owner))[0] == 201
    status, _ = api("DeleteWorkflowFunction", owner["user"], path={"workflow_id": owner["workflow_id"]})
    assert status == 204

    status, answer = api(
        "CreatePipelineFunction", owner["user"], body={"name": "again", "definition": composed(owner)}
    )

    assert status == 422
    assert [item["field"] for item in answer["error"]["details"]] == [
        "body.definition.steps[2].workflow_id",
        "body.definition.steps[4].step.workflow_id",
    ]


def test_an_inner_llm_step_over_the_token_cap_is_named(api, owner):
    definition = composed(owner)
    definition["steps"][4]["step"] = {"kind": "llm", "prompt": "Greet {item}", "max_tokens": 100_000}

    status, answer = create(api, owner["user"], definition)

    assert (status, answer["error"]["code"]) == (422, "max_tokens_too_large")
    assert answer["error"]["details"] == [
        {"field": "body.definition.steps[4].step.max_tokens", "message": "max_tokens may be at most 16384"}
    ]

"""Team runs over their handlers: execute a team, follow a run's messages, list a team's runs.

Runs start executions of the real run state machine in moto's Step Functions, which records them
and runs nothing: what these routes answer is what a run looks like before its first step.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
import pytest

from auralink.agents.runs.control import WORKFLOW_FRAMEWORK
from auralink.agents.teams import conversations
from auralink.db import tenant_transaction
from auralink.llm.metrics import CallRecord, record
from tests.integration.teams.conftest import Api
from tests.support import environment
from tests.support.handlers import ROOT, request
from tests.support.runs import create_run

STEP_ARN = "arn:aws:lambda:us-east-1:123456789012:function:auralink-test-RunStepFunction:live"
CREW_STEP_ARN = "arn:aws:lambda:us-east-1:123456789012:function:auralink-test-CrewStepFunction"
PAIR = {
    "team_name": "pair",
    "collaboration_mode": "round_robin",
    "members": [
        {"name": "writer", "description": "Writes the summary"},
        {"name": "critic", "description": "Reviews the summary"},
    ],
    "termination": {"max_messages": 4},
}
CREW = {
    "team_name": "writers",
    "collaboration_mode": "sequential",
    "members": [
        {"name": "researcher", "role": "Researcher", "goal": "Find facts", "backstory": "A librarian"}
    ],
    "tasks": [
        {"name": "research", "description": "Research it", "expected_output": "Facts", "agent": "researcher"}
    ],
}
TASK = {
    "task_description": "Research the latest WebRTC standards and create a summary",
    "additional_context": {"focus_areas": ["security", "performance"]},
}


@pytest.fixture(autouse=True)
def run_machine(credentials_key: pytest.MonkeyPatch) -> str:
    """The run state machine in moto, named to the functions that start runs."""
    definition = (ROOT / "infra" / "statemachines" / "run.asl.json").read_text(encoding="utf-8")
    arn = boto3.client("stepfunctions").create_state_machine(
        name="auralink-test-run",
        definition=definition.replace("${RunStepFunctionArn}", STEP_ARN).replace(
            "${CrewStepFunctionArn}", CREW_STEP_ARN
        ),
        roleArn="arn:aws:iam::123456789012:role/auralink-test-RunStateMachineRole",
        type="STANDARD",
    )["stateMachineArn"]
    credentials_key.setenv("RUN_STATE_MACHINE_ARN", arn)
    environment.forget_caches()
    return arn


@pytest.fixture
def execute(token_for: Callable[..., str]) -> Callable[..., tuple[int, Any, dict[str, str]]]:
    """execute(user, team_id, body, key=None) -> (status, body, headers)."""

    def call(
        user: str, team_id: str, body: Any = TASK, key: str | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        return request(
            "ExecuteTeamFunction",
            token_for(user),
            body=body,
            path={"team_id": team_id},
            headers={"Idempotency-Key": key},
        )

    return call


def create_team(api: Api, user: str, body: dict[str, Any] = PAIR) -> str:
    status, created = api("CreateTeamFunction", user, body=body)
    assert status == 201, created
    return str(created["team_id"])


def executions(run_machine: str, run_id: str) -> list[dict[str, Any]]:
    listed = boto3.client("stepfunctions").list_executions(stateMachineArn=run_machine)["executions"]
    return [item for item in listed if item["name"].startswith(run_id)]


def messages(api: Api, user: str, run_id: str, **query: str) -> tuple[int, Any]:
    return api("RunsListRunMessagesFunction", user, path={"run_id": run_id}, query=query)


def team_runs(api: Api, user: str, team_id: str, **query: str) -> tuple[int, Any]:
    return api("ListTeamConversationsFunction", user, path={"team_id": team_id}, query=query)


def write_messages(user: str, run_id: str, count: int) -> None:
    """Messages of the run as its executor writes them, one turn each."""
    with tenant_transaction(user) as conn:
        for turn in range(1, count + 1):
            conversations.append_message(
                conn,
                user_id=user,
                run_id=uuid.UUID(run_id),
                turn=turn,
                source="writer" if turn % 2 else "critic",
                kind="text",
                content=f"draft {turn}",
                usage={"prompt_tokens": 10 * turn, "completion_tokens": turn},
            )


# ------------------------------------------------------------------------------------ execute


def test_an_executed_team_is_a_queued_run_of_the_team(
    api: Api, execute: Callable[..., Any], run_machine: str, make_user_id: Callable[[str], str]
) -> None:
    user = make_user_id("alice")
    team_id = create_team(api, user)

    status, accepted, headers = execute(user, team_id)

    assert status == 202, accepted
    assert accepted["status"] == "queued"
    assert "Idempotent-Replayed" not in headers
    run_id = accepted["run_id"]
    status, run = api("RunsGetRunFunction", user, path={"run_id": run_id})
    assert status == 200, run
    assert (run["kind"], run["team_id"], run["workflow_id"]) == ("team", team_id, None)
    assert (run["framework"], run["status"], run["output"], run["error"]) == ("autogen", "queued", None, None)
    assert run["usage"]["llm_calls"] == 0
    (execution,) = executions(run_machine, run_id)
    assert execution["name"] == f"{run_id}-1"
    started = boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    # The framework chooses the step function: the run step steps AutoGen's runs.
    assert json.loads(started["input"]) == {"run_id": run_id, "user_id": user, "framework": "autogen"}
    status, listed = api("RunsListRunsFunction", user)
    assert [(item["run_id"], item["kind"], item["team_id"]) for item in listed["runs"]] == [
        (run_id, "team", team_id)
    ]


def test_the_same_idempotency_key_answers_the_same_run_started_once(
    api: Api, execute: Callable[..., Any], run_machine: str, make_user_id: Callable[[str], str]
) -> None:
    user = make_user_id("alice")
    team_id = create_team(api, user)

    first = execute(user, team_id, key="webrtc-1")
    again = execute(user, team_id, key="webrtc-1")
    other_task = execute(user, team_id, {**TASK, "additional_context": {}}, key="webrtc-1")
    other_team = execute(user, create_team(api, user, {**PAIR, "team_name": "other"}), key="webrtc-1")

    assert first[0] == again[0] == 202
    run_id = first[1]["run_id"]
    assert again[1] == {"run_id": run_id, "status": "queued"}
    assert again[2]["Idempotent-Replayed"] == "true"
    for status, body, _ in (other_task, other_team):
        assert (status, body["error"]["code"]) == (409, "idempotency_key_reused")
    assert [item["name"] for item in executions(run_machine, run_id)] == [f"{run_id}-1"]
    status, listed = team_runs(api, user, team_id)
    assert [item["run_id"] for item in listed["conversations"]] == [run_id]


def test_a_repeated_execute_gets_its_run_even_after_the_team_changed(
    api: Api, execute: Callable[..., Any], make_user_id: Callable[[str], str]
) -> None:
    user = make_user_id("alice")
    team_id = create_team(api, user)
    first = execute(user, team_id, key="webrtc-2")
    emptied = api("UpdateTeamFunction", user, path={"team_id": team_id}, body={**PAIR, "members": []})
    assert emptied[0] == 200

    again = execute(user, team_id, key="webrtc-2")

    assert again[0] == 202 and again[1]["run_id"] == first[1]["run_id"]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert execute(user, team_id, key="webrtc-3")[0] == 422


def test_a_team_without_members_cannot_run_and_nothing_is_recorded(
    api: Api, execute: Callable[..., Any], make_user_id: Callable[[str], str]
) -> None:
    user = make_user_id("alice")
    team_id = create_team(api, user, {"team_name": "empty", "collaboration_mode": "round_robin"})

    status, body, _ = execute(user, team_id)

    assert status == 422, body
    assert body["error"]["code"] == "validation_failed"
    (detail,) = body["error"]["details"]
    assert detail["field"] == "team.members"
    assert "no members" in detail["message"]
    assert api("RunsListRunsFunction", user)[1]["runs"] == []
    assert team_runs(api, user, team_id)[1]["conversations"] == []


def test_a_selector_of_one_member_cannot_run(
    api: Api, execute: Callable[..., Any], make_user_id: Callable[[str], str]
) -> None:
    user = make_user_id("alice")
    team_id = create_team(api, user, {"team_name": "chooser", "collaboration_mode": "selector"})
    added, _ = api(
        "AddTeamMemberFunction",
        user,
        path={"team_id": team_id},
        body={"name": "solo", "description": "Alone"},
    )
    assert added == 201

    status, body, _ = execute(user, team_id)

    assert status == 422, body
    assert body["error"]["details"] == [
        {"field": "team.members", "message": "a selector team needs two members or more; it has 1"}
    ]


def test_a_crew_without_a_model_to_call_is_refused_naming_the_preference(
    api: Api, execute: Callable[..., Any], make_user_id: Callable[[str], str]
) -> None:
    """A crew's models are resolved when it starts (its step cannot read the registry): a user
    with no default model, whose members name none, is told so and nothing is recorded."""
    user = make_user_id("alice")
    team_id = create_team(api, user, CREW)

    status, body, _ = execute(user, team_id)

    assert status == 422, body
    assert body["error"]["code"] == "model_required"
    assert api("RunsListRunsFunction", user)[1]["runs"] == []


def long_context() -> dict[str, Any]:
    return {"notes": "x" * (64 * 1024)}


@pytest.mark.parametrize(
    ("body", "key", "field"),
    [
        ({**TASK, "task_description": ""}, None, "body.task_description"),
        ({**TASK, "task_description": "   "}, None, "body.task_description"),
        ({"additional_context": {}}, None, "body.task_description"),
        ({**TASK, "task_description": "x" * 20_001}, None, "body.task_description"),
        ({**TASK, "priority": "high"}, None, "body.priority"),
        ({**TASK, "additional_context": ["security"]}, None, "body.additional_context"),
        ({**TASK, "additional_context": long_context()}, None, "body.additional_context"),
        (TASK, "k" * 256, "header.idempotency-key"),
        (TASK, "tab\tinside", "header.idempotency-key"),
    ],
)
def test_a_malformed_execute_request_is_refused_naming_the_field(
    api: Api,
    execute: Callable[..., Any],
    make_user_id: Callable[[str], str],
    body: dict[str, Any],
    key: str | None,
    field: str,
) -> None:
    user = make_user_id("alice")
    team_id = create_team(api, user)

    status, answer, _ = execute(user, team_id, body, key=key)

    assert status == 422, answer
    assert answer["error"]["code"] == "validation_failed"
    assert field in [detail["field"] for detail in answer["error"]["details"]]
    assert api("RunsListRunsFunction", user)[1]["runs"] == []


# ------------------------------------------------------------------------------ across users


def test_another_users_team_and_its_runs_are_not_found(
    api: Api, execute: Callable[..., Any], make_user_id: Callable[[str], str]
) -> None:
    alice, bob = make_user_id("alice"), make_user_id("bob")
    team_id = create_team(api, alice)
    run_id = execute(alice, team_id)[1]["run_id"]
    write_messages(alice, run_id, 1)

    answers = {
        "execute": execute(bob, team_id)[:2],
        "run": api("RunsGetRunFunction", bob, path={"run_id": run_id}),
        "messages": messages(api, bob, run_id),
        "conversations": team_runs(api, bob, team_id),
    }

    assert {name: (status, body["error"]["code"]) for name, (status, body) in answers.items()} == {
        "execute": (404, "team_not_found"),
        "run": (404, "run_not_found"),
        "messages": (404, "run_not_found"),
        "conversations": (404, "team_not_found"),
    }
    assert api("RunsListRunsFunction", bob)[1]["runs"] == []
    assert len(messages(api, alice, run_id)[1]["messages"]) == 1


def test_unknown_teams_and_runs_are_not_found(
    api: Api, execute: Callable[..., Any], make_user_id: Callable[[str], str]
) -> None:
    user, unknown = make_user_id("alice"), str(uuid.uuid4())

    status, body, _ = execute(user, unknown)

    assert (status, body["error"]["code"]) == (404, "team_not_found")
    assert messages(api, user, unknown)[1]["error"]["code"] == "run_not_found"
    assert team_runs(api, user, unknown)[1]["error"]["code"] == "team_not_found"


# ------------------------------------------------------------------------------------ messages


def test_messages_are_read_after_a_sequence_number_and_next_follows_them(
    api: Api, execute: Callable[..., Any], make_user_id: Callable[[str], str]
) -> None:
    user = make_user_id("alice")
    run_id = execute(user, create_team(api, user))[1]["run_id"]
    status, empty = messages(api, user, run_id)
    assert (status, empty) == (200, {"messages": [], "next": 0})
    write_messages(user, run_id, 3)

    first = messages(api, user, run_id, limit="2")[1]
    second = messages(api, user, run_id, after=str(first["next"]), limit="2")[1]
    caught_up = messages(api, user, run_id, after=str(second["next"]))[1]

    assert [(item["seq"], item["source"], item["content"]) for item in first["messages"]] == [
        (1, "writer", "draft 1"),
        (2, "critic", "draft 2"),
    ]
    assert first["next"] == 2
    (third,) = second["messages"]
    assert (third["seq"], third["type"], third["usage"]) == (
        3,
        "text",
        {"prompt_tokens": 30, "completion_tokens": 3},
    )
    assert third["created_at"]
    assert second["next"] == 3
    assert caught_up == {"messages": [], "next": 3}


def test_a_workflow_run_has_no_messages(api: Api, make_user_id: Callable[[str], str]) -> None:
    user = make_user_id("alice")
    run_id = create_run(user, framework=WORKFLOW_FRAMEWORK)

    assert messages(api, user, run_id) == (200, {"messages": [], "next": 0})
    assert messages(api, user, run_id, after="7") == (200, {"messages": [], "next": 7})


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"after": "-1"}, "query.after"),
        ({"after": "first"}, "query.after"),
        ({"after": str(2**63)}, "query.after"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "201"}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
    ],
)
def test_bad_message_parameters_are_refused_naming_them(
    api: Api, make_user_id: Callable[[str], str], query: dict[str, str], field: str
) -> None:
    user = make_user_id("alice")
    run_id = create_run(user, framework=WORKFLOW_FRAMEWORK)

    status, body = messages(api, user, run_id, **query)

    assert status == 422, body
    assert [detail["field"] for detail in body["error"]["details"]] == [field]


# ------------------------------------------------------------------------------- conversations


def test_a_teams_runs_are_listed_newest_first_and_paged(
    api: Api, execute: Callable[..., Any], make_user_id: Callable[[str], str]
) -> None:
    user = make_user_id("alice")
    team_id = create_team(api, user)
    other_team = create_team(api, user, {**PAIR, "team_name": "other"})
    tasks = ["First task", "Second task", "Third task"]
    run_ids = [execute(user, team_id, {"task_description": task})[1]["run_id"] for task in tasks]
    execute(user, other_team)

    status, everything = team_runs(api, user, team_id)
    first_page = team_runs(api, user, team_id, limit="2")[1]
    second_page = team_runs(api, user, team_id, limit="2", cursor=first_page["next_cursor"])[1]

    assert status == 200, everything
    assert [item["run_id"] for item in everything["conversations"]] == run_ids[::-1]
    assert everything["next_cursor"] is None
    newest = everything["conversations"][0]
    assert newest == {
        "run_id": run_ids[2],
        "task_description": "Third task",
        "status": "queued",
        "message_count": 0,
        "stop_reason": None,
        "cost_usd": 0,
        "created_at": newest["created_at"],
        "started_at": None,
        "finished_at": None,
    }
    assert [item["run_id"] for item in first_page["conversations"] + second_page["conversations"]] == run_ids[
        ::-1
    ]
    assert first_page["next_cursor"] is not None and second_page["next_cursor"] is None


def test_a_conversation_costs_what_its_runs_model_calls_cost(
    api: Api, execute: Callable[..., Any], make_user_id: Callable[[str], str]
) -> None:
    user = make_user_id("alice")
    team_id = create_team(api, user)
    run_id = execute(user, team_id)[1]["run_id"]
    for cost in ("0.0012", "0.0003"):
        record(
            CallRecord(
                user_id=user,
                provider="openai",
                model="gpt-5.4",
                latency_ms=100,
                status="success",
                input_tokens=100,
                output_tokens=20,
                cost_usd=Decimal(cost),
                run_id=uuid.UUID(run_id),
            )
        )

    (conversation,) = team_runs(api, user, team_id)[1]["conversations"]

    assert conversation["cost_usd"] == pytest.approx(0.0015)


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ({"limit": "0"}, "query.limit", "validation_failed"),
        ({"limit": "201"}, "query.limit", "validation_failed"),
        ({"cursor": "c" * 201}, "query.cursor", "validation_failed"),
        ({"cursor": "not-a-cursor"}, "query.cursor", "invalid_cursor"),
    ],
)
def test_bad_conversation_parameters_are_refused_naming_them(
    api: Api, make_user_id: Callable[[str], str], query: dict[str, str], field: str, code: str
) -> None:
    user = make_user_id("alice")
    team_id = create_team(api, user)

    status, body = team_runs(api, user, team_id, **query)

    assert (status, body["error"]["code"]) == (422, code), body
    assert [detail["field"] for detail in body["error"]["details"]] == [field]

"""POST /api/v1/agents/tools/call: the tool catalog over HTTP, for a user's JWT and for a run's
run-scoped token (whose calls are recorded against the run)."""

from __future__ import annotations

import uuid

from auralink import run_tokens
from auralink.db import tenant_transaction
from tests.support.handlers import request

FUNCTION = "AgentsCallToolFunction"


def _calls(user: str) -> list[dict]:
    with tenant_transaction(user) as conn:
        return conn.execute(
            "SELECT tool, status, error_code, run_id::text AS run_id FROM agent_tool_calls"
            " ORDER BY created_at"
        ).fetchall()


def test_a_user_calls_a_built_in_tool(hosted_api, token_for, make_user_id):
    user = make_user_id()

    status, answer, _ = request(
        FUNCTION, token_for(user), body={"tool": "calculator", "arguments": {"expression": "6*7"}}
    )

    assert status == 200, answer
    assert answer["text"] == "42" and answer["is_error"] is False and answer["error_code"] is None
    assert _calls(user) == [{"tool": "calculator", "status": "success", "error_code": None, "run_id": None}]


def test_a_run_token_calls_an_mcp_tool_recorded_against_its_run(
    hosted_api, connect_server, stateless_mcp, new_run, make_user_id
):
    user = make_user_id()
    connect_server(user, "custom", endpoint=stateless_mcp.url, name="tools")
    run_id = new_run(user)
    token = run_tokens.mint(user, run_id, ttl_s=60)

    status, answer, _ = request(
        FUNCTION, token, body={"tool": "mcp:tools/add", "arguments": {"a": 40, "b": 2}}
    )

    assert status == 200, answer
    assert answer["is_error"] is False and answer["structured"] is not None
    assert _calls(user) == [
        {"tool": "mcp:tools/add", "status": "success", "error_code": None, "run_id": run_id}
    ]


def test_a_failing_or_unknown_tool_is_an_answer_not_an_http_error(hosted_api, token_for, make_user_id):
    user = make_user_id()

    broken = request(
        FUNCTION, token_for(user), body={"tool": "calculator", "arguments": {"expression": "1/"}}
    )
    unknown = request(FUNCTION, token_for(user), body={"tool": "mcp:nothing/here", "arguments": {}})

    for status, answer, _ in (broken, unknown):
        assert status == 200 and answer["is_error"] is True and answer["error_code"], answer
    assert unknown[1]["error_code"] == "connection_not_found"


def test_bad_bodies_are_422_naming_the_field(hosted_api, token_for, make_user_id):
    token = token_for(make_user_id())
    for body, field in (
        ({"arguments": {}}, "body.tool"),
        ({"tool": "", "arguments": {}}, "body.tool"),
        ({"tool": "calculator", "arguments": [1]}, "body.arguments"),
        ({"tool": "calculator", "extra": 1}, "body.extra"),
    ):
        status, answer, _ = request(FUNCTION, token, body=body)
        assert status == 422, (body, answer)
        assert answer["error"]["details"][0]["field"] == field, (body, answer)


def test_a_run_token_of_another_user_cannot_reach_this_users_connections(
    hosted_api, connect_server, stateless_mcp, new_run, make_user_id
):
    owner, other = make_user_id(), make_user_id()
    connect_server(owner, "custom", endpoint=stateless_mcp.url, name="tools")
    token = run_tokens.mint(other, new_run(other), ttl_s=60)

    status, answer, _ = request(
        FUNCTION, token, body={"tool": "mcp:tools/add", "arguments": {"a": 1, "b": 2}}
    )

    assert status == 200 and answer["is_error"] is True and answer["error_code"] == "connection_not_found"
    assert _calls(owner) == []
    assert uuid.UUID(_calls(other)[0]["run_id"])

"""The catalog: descriptions, unknown names, and calls (built-in and through the MCP gateway),
each one recorded in `agent_tool_calls`, on the session database and real servers on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from psycopg import errors

from auralink.agents.tools import catalog
from auralink.agents.tools.base import ToolOutput
from auralink.auth import Identity
from auralink.db import tenant_transaction
from auralink.errors import ValidationFailed
from auralink.mcp import tools as mcp_tools
from tests.fakes.mcp_servers import FAILURE_TEXT, LoopbackServer, canned_app
from tests.fakes.untrusted_text_server import untrusted_text_app


@pytest.fixture(autouse=True)
def environment(tools_env):
    return tools_env


@pytest.fixture
def user(make_user_id) -> str:
    return make_user_id("agent")


def recorded(user: str) -> list[dict[str, Any]]:
    return [call.model_dump() for call in catalog.recorded_calls(Identity(sub=user))]


def operation_log(user: str) -> list[dict[str, Any]]:
    with tenant_transaction(user) as conn:
        return conn.execute(
            "SELECT id::text AS id, tool, status FROM mcp_operation_logs WHERE operation = 'call_tool'"
            " ORDER BY created_at"
        ).fetchall()


def test_the_calculator_answers_and_the_call_is_recorded_with_its_run(make_context, user, new_run) -> None:
    run_id = new_run(user)

    output = catalog.call(make_context(user, run_id=run_id), "calculator", {"expression": "2 ** 10 + 1"})

    assert output == ToolOutput(text="1025", structured={"result": 1025}, latency_ms=output.latency_ms)
    (call,) = catalog.recorded_calls(Identity(sub=user), run_id=run_id)
    assert (call.tool, call.status, call.error_code, call.run_id) == ("calculator", "success", None, run_id)
    assert call.request_bytes == len(json.dumps({"expression": "2 ** 10 + 1"}))
    assert call.response_bytes > 0 and call.mcp_operation_id is None


@pytest.mark.parametrize(
    ("name", "arguments", "code", "in_message"),
    [
        ("calculator", {"expression": "1 / 0"}, "division_by_zero", "division by zero"),
        (
            "calculator",
            {"expression": "__import__('os')"},
            "invalid_expression",
            "'__import__' is not allowed",
        ),
        ("calculator", {"expr": "1"}, "invalid_tool_arguments", "arguments"),
        ("calculator", {"expression": 42}, "invalid_tool_arguments", "arguments.expression"),
        ("code_analyzer", {"source": "def f(:\n"}, "syntax_error", "line 1"),
        ("web_search", {"query": "x", "max_results": 50}, "invalid_tool_arguments", "arguments.max_results"),
        ("deepwiki", {"action": "ask", "repo_name": "a/b"}, "invalid_tool_arguments", "question"),
        (
            "deepwiki",
            {"action": "read", "repo_name": "../etc"},
            "invalid_tool_arguments",
            "arguments.repo_name",
        ),
        ("rm -rf", {}, "unknown_tool", "unknown tool"),
    ],
)
def test_a_tool_failure_is_an_error_output_and_is_recorded(
    make_context, user, name: str, arguments: dict[str, Any], code: str, in_message: str
) -> None:
    output = catalog.call(make_context(user), name, arguments)

    assert (output.is_error, output.error_code) == (True, code)
    assert in_message in output.text
    (call,) = recorded(user)
    assert (call["tool"], call["status"], call["error_code"]) == (name, "error", code)


def test_bad_arguments_name_the_field_in_the_details(make_context, user) -> None:
    output = catalog.call(make_context(user), "calculator", {"expression": 42})

    assert output.structured["details"][0]["field"] == "arguments.expression"


def test_arguments_that_are_not_an_object_are_refused(make_context, user) -> None:
    output = catalog.call(make_context(user), "calculator", ["1 + 1"])  # type: ignore[arg-type]
    assert (output.is_error, output.error_code) == (True, "invalid_tool_arguments")


def test_a_call_with_no_time_left_is_refused_and_recorded(make_context, user) -> None:
    output = catalog.call(make_context(user, budget_s=0), "calculator", {"expression": "1"})

    assert output.error_code == "deadline_exhausted"
    assert recorded(user)[0]["error_code"] == "deadline_exhausted"


def test_web_search_through_the_catalog(make_context, user, use_search) -> None:
    use_search("searxng", "ok")
    found = catalog.call(make_context(user), "web_search", {"query": "agents", "max_results": 2})
    use_search("duckduckgo", "error")
    failed = catalog.call(make_context(user), "web_search", {"query": "agents"})

    assert not found.is_error and len(found.structured["results"]) == 2
    assert found.text.startswith("1. Result 1 about agents\n   https://example.org/agents/1")
    assert (failed.is_error, failed.error_code) == (True, "search_unavailable")
    assert [call["status"] for call in recorded(user)] == ["error", "success"]


def test_code_analyzer_through_the_catalog(make_context, user) -> None:
    output = catalog.call(make_context(user), "code_analyzer", {"source": "def f(x):\n    return x or 1\n"})

    assert output.structured["functions"][0] == {
        "name": "f",
        "line": 1,
        "args": 1,
        "is_async": False,
        "complexity": 2,
    }
    assert json.loads(output.text) == output.structured


def test_memory_search_finds_what_the_user_stored(make_context, connect_server, hosted_api, user) -> None:
    connect_server(user, "memory")
    mcp_tools.call_server_tool(
        Identity(sub=user),
        "memory",
        None,
        "create_entities",
        {
            "entities": [
                {"name": "Ada Lovelace", "entityType": "person", "observations": ["wrote the first program"]},
                {"name": "Analytical Engine", "entityType": "machine", "observations": ["never built"]},
            ]
        },
        api_base_url=hosted_api,
        remaining_ms=20_000,
    )

    output = catalog.call(make_context(user), "memory_search", {"query": "program"})

    assert not output.is_error, output.text
    found = json.loads(output.text)
    assert [entity["name"] for entity in found["entities"]] == ["Ada Lovelace"]
    (call,) = recorded(user)
    assert (call["tool"], call["status"]) == ("memory_search", "success")
    assert call["mcp_operation_id"] == output.mcp_operation_id
    assert operation_log(user)[-1] == {
        "id": output.mcp_operation_id,
        "tool": "search_nodes",
        "status": "success",
    }


def test_memory_search_without_a_memory_connection(make_context, user) -> None:
    output = catalog.call(make_context(user), "memory_search", {"query": "anything"})

    assert (output.is_error, output.error_code) == (True, "connection_not_found")
    assert "connect" in output.text
    assert recorded(user)[0]["error_code"] == "connection_not_found"


def test_deepwiki_reads_and_asks_through_the_users_connection(make_context, connect_server, user) -> None:
    connect_server(user, "deepwiki")

    read = catalog.call(make_context(user), "deepwiki", {"action": "read", "repo_name": "octo/repo"})
    asked = catalog.call(
        make_context(user), "deepwiki", {"action": "ask", "repo_name": "octo/repo", "question": "How?"}
    )

    assert read.text.startswith("# octo/repo") and not read.is_error
    assert "How? -> it is documented" in asked.text
    assert [row["tool"] for row in operation_log(user)] == ["read_wiki_contents", "ask_question"]


@pytest.fixture
def own_tools(connect_server, user, stateless_mcp) -> str:
    """The user's connection "tools" to the loopback server of echo, add, fails..."""
    connect_server(user, "custom", endpoint=stateless_mcp.url, name="tools")
    return "tools"


def test_an_mcp_tool_by_connection_name(make_context, own_tools, user) -> None:
    output = catalog.call(make_context(user), "mcp:tools/add", {"a": 2, "b": 3})

    assert not output.is_error
    assert output.structured == {"sum": 5.0}
    (call,) = recorded(user)
    assert (call["tool"], call["status"], call["mcp_operation_id"]) == (
        "mcp:tools/add",
        "success",
        output.mcp_operation_id,
    )
    assert operation_log(user) == [{"id": output.mcp_operation_id, "tool": "add", "status": "success"}]


def test_an_mcp_tools_own_error_is_an_error_output(make_context, own_tools, user) -> None:
    output = catalog.call(make_context(user), "mcp:tools/fails", {})

    assert (output.is_error, output.error_code) == (True, "mcp_tool_error")
    assert FAILURE_TEXT in output.text
    assert recorded(user)[0]["mcp_operation_id"] == output.mcp_operation_id


@pytest.mark.parametrize(
    ("name", "arguments", "code"),
    [
        ("mcp:tools/add", {"a": "two", "b": 3}, "invalid_tool_arguments"),
        ("mcp:tools/no_such_tool", {}, "tool_not_found"),
        ("mcp:elsewhere/add", {"a": 1, "b": 2}, "connection_not_found"),
    ],
)
def test_mcp_calls_the_gateway_refuses_send_nothing(
    make_context, own_tools, user, stateless_mcp, name: str, arguments: dict[str, Any], code: str
) -> None:
    before = len(stateless_mcp.log.requests)

    output = catalog.call(make_context(user), name, arguments)

    assert (output.is_error, output.error_code) == (True, code)
    assert len(stateless_mcp.log.requests) == before
    assert operation_log(user) == []
    assert recorded(user)[0]["error_code"] == code


def test_unknown_tools_of_a_mixed_list(own_tools, user) -> None:
    names = [
        "calculator",
        "web_search",
        "mcp:tools/echo",
        "mcp:tools/no_such_tool",
        "mcp:elsewhere/echo",
        "eval",
        "mcp:tools",
        "calculator",
    ]

    assert catalog.unknown_tools(Identity(sub=user), names) == [
        "mcp:tools/no_such_tool",
        "mcp:elsewhere/echo",
        "eval",
        "mcp:tools",
    ]


def test_describe_gives_builtins_and_mcp_tools_with_their_schemas(own_tools, user) -> None:
    described = catalog.describe(
        Identity(sub=user), ["calculator", "mcp:tools/echo", "deepwiki", "calculator"]
    )

    assert [tool.name for tool in described] == ["calculator", "mcp:tools/echo", "deepwiki"]
    calculator, echo, deepwiki = described
    assert calculator.input_schema["required"] == ["expression"] and "arithmetic" in calculator.description
    assert echo.input_schema["properties"]["text"]["type"] == "string" and echo.description
    assert deepwiki.input_schema["properties"]["action"]["enum"] == ["ask", "read"]


def test_describe_refuses_unknown_names(user) -> None:
    with pytest.raises(ValidationFailed) as raised:
        catalog.describe(Identity(sub=user), ["calculator", "mcp:nothing/here"])

    assert raised.value.code == "unknown_tool"
    assert raised.value.details[0]["field"] == "mcp:nothing/here"


def test_another_user_sees_none_of_the_calls_and_cannot_use_the_connection(
    make_context, own_tools, user, make_user_id
) -> None:
    catalog.call(make_context(user), "mcp:tools/echo", {"text": "mine"})
    stranger = make_user_id("stranger")

    output = catalog.call(make_context(stranger), "mcp:tools/echo", {"text": "theirs?"})

    assert output.error_code == "connection_not_found"
    assert [call["tool"] for call in recorded(stranger)] == ["mcp:tools/echo"]
    assert recorded(stranger)[0]["status"] == "error"
    assert catalog.unknown_tools(Identity(sub=stranger), ["mcp:tools/echo"]) == ["mcp:tools/echo"]
    assert len(recorded(user)) == 1


def test_a_call_cannot_be_recorded_against_another_users_run(
    make_context, user, make_user_id, new_run
) -> None:
    someone_elses_run = new_run(make_user_id("other"))

    with pytest.raises(errors.ForeignKeyViolation):
        catalog.call(make_context(user, run_id=someone_elses_run), "calculator", {"expression": "1"})


def test_a_runs_calls_go_with_the_run(make_context, user, new_run) -> None:
    run_id = new_run(user)
    catalog.call(make_context(user, run_id=run_id), "calculator", {"expression": "1"})

    with tenant_transaction(user) as conn:
        conn.execute("DELETE FROM workflow_executions WHERE id = %s", (run_id,))

    assert recorded(user) == []


def test_every_call_emits_metrics_with_a_bounded_tool_dimension(
    make_context, own_tools, user, capsys
) -> None:
    capsys.readouterr()
    catalog.call(make_context(user), "mcp:tools/echo", {"text": "hi"})
    catalog.call(make_context(user), "calculator", {"expression": "1/0"})

    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    points = {
        (metric["Name"], document["tool"])
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
        if metric["Name"].startswith("AgentTool")
    }
    assert points == {
        ("AgentToolCalls", "mcp"),
        ("AgentToolDuration", "mcp"),
        ("AgentToolCalls", "calculator"),
        ("AgentToolDuration", "calculator"),
        ("AgentToolErrors", "calculator"),
    }


@pytest.fixture(scope="module")
def untrusted_text_server():
    with LoopbackServer(canned_app(), name="catalog-schema-host") as schema_host:
        app = untrusted_text_app(remote_schema_url=schema_host.url_for("/schemas/text.json"))
        with LoopbackServer(app, name="catalog-untrusted-text") as server:
            yield server, schema_host


@pytest.mark.parametrize(
    ("tool", "arguments", "code"),
    [
        ("remote_ref", {"text": "hi"}, "unsupported_schema"),
        ("lookahead", {"text": "abc1"}, "unsupported_schema"),
        ("match", {"text": "a" * 100_000 + "!"}, "invalid_tool_arguments"),
    ],
)
def test_a_servers_hostile_schema_is_an_error_output_not_a_crash_or_a_fetch(
    make_context, connect_server, user, untrusted_text_server, tool, arguments, code
) -> None:
    server, schema_host = untrusted_text_server
    connect_server(user, "custom", endpoint=server.url, name="hostile")

    output = catalog.call(make_context(user), f"mcp:hostile/{tool}", arguments)

    assert (output.is_error, output.error_code) == (True, code)
    assert recorded(user)[0]["error_code"] == code
    assert schema_host.log.requests == []

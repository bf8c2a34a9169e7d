"""No string a user chooses reaches a CloudWatch metric dimension (each new value is a new metric,
billed to the operator): custom hosts, tool names of a user's own server, model names on a
user's own endpoint, unknown agent tools. Every EMF document emitted while the MCP gateway, the
LLM gateway and the tool catalog serve such a user is read back from stdout; every dimension
value must come from a finite set. The detail stays in Postgres, where the statistics read it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server import MCPServer

from auralink.agents.tools import catalog
from auralink.auth import Identity
from auralink.config import get_mcp_config
from auralink.errors import ServiceUnavailable
from auralink.llm import registry
from auralink.mcp import tools as mcp_tools
from auralink.mcp import usage
from tests.fakes.mcp_servers import DEEPWIKI_TOOLS, LoopbackServer
from tests.fakes.openai_server import Fail, LlmServer, Text, openai_server
from tests.support.handlers import local_functions, request

MARKER = "zq" + uuid.uuid4().hex[:10]  # in every name the user chooses
LLM_KEY = "sk-dimensions-0123456789abcdef"
MCP_OPERATIONS = {"connect", "list_tools", "test", "call_tool"}


def _own_server() -> MCPServer:
    server: MCPServer = MCPServer(f"server-{MARKER}", log_level="WARNING")

    def chosen() -> str:
        return "a name of the server's choosing"

    server.add_tool(chosen, name=f"tool_{MARKER}", description="Named by whoever runs the server.")
    return server


@pytest.fixture(scope="module")
def own_server() -> Iterator[LoopbackServer]:
    app = _own_server().streamable_http_app(stateless_http=True, json_response=True)
    with LoopbackServer(app, name="dimensions") as server:
        yield server


@pytest.fixture(scope="module")
def own_llm() -> Iterator[LlmServer]:
    with openai_server(api_key=LLM_KEY) as server:
        yield server


def emitted(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def dimensions(documents: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(metric, dimension, value) of every metric point."""
    return {
        (metric["Name"], name, str(document[name]))
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
        for names in directive["Dimensions"]
        for name in names
    }


def allowed() -> dict[str, set[str]]:
    return {
        "service": {"auralink"},
        "function_name": set(local_functions().specs),  # the template's (cold starts)
        "server": set(get_mcp_config().servers) | {"custom"},
        "tool": MCP_OPERATIONS | set(DEEPWIKI_TOOLS) | set(catalog.BUILTINS) | {"other", "mcp", "unknown"},
        "provider": {provider.name for provider in registry.list_providers()},
        "model": {model.id for model in registry.list_models()} | {"other"},
    }


def test_no_user_chosen_string_reaches_a_metric_dimension(
    connect_server, make_context, make_user_id, own_server, own_llm, deepwiki_server, token_for, capsys
) -> None:
    capsys.readouterr()
    user = make_user_id("chooser")
    identity = Identity(sub=user)
    tool = f"tool_{MARKER}"

    # MCP: a server of the user's own, its tools, a wrong path on it, a call refused before it
    # starts; and a registry server, whose names are dimensions.
    own = connect_server(user, "custom", endpoint=own_server.url, name=f"own-{MARKER}")
    mcp_tools.call_tool(identity, own.connection_id, tool, {}, api_base_url=None, remaining_ms=20_000)
    with pytest.raises(Exception, match="HTTP 404"):
        connect_server(user, "custom", endpoint=own_server.url_for(f"/{MARKER}"), name=f"bad-{MARKER}")
    with pytest.raises(ServiceUnavailable):
        mcp_tools.call_tool(identity, own.connection_id, tool, {}, api_base_url=None, remaining_ms=1_000)
    wiki = connect_server(user, "deepwiki")
    mcp_tools.call_tool(
        identity,
        wiki.connection_id,
        "read_wiki_structure",
        {"repoName": "a/b"},
        api_base_url=None,
        remaining_ms=20_000,
    )

    # LLM: any model name on the user's own endpoint, answered and failed.
    token = token_for(user)
    model = f"openai/{MARKER}-model"
    preferences = {"providers": {"openai": {"api_key": LLM_KEY, "base_url": own_llm.base_url + "/v1"}}}
    assert request("LlmPutPreferencesFunction", token, body=preferences)[0] == 200
    own_llm.script.then(Text("hi"), Fail(400, "no"))
    messages = [{"role": "user", "content": "hi"}]
    assert request("LlmChatFunction", token, body={"model": model, "messages": messages})[0] == 200
    assert request("LlmChatFunction", token, body={"model": model, "messages": messages})[0] >= 400

    # Agent tools: an unknown name, the user's own MCP tool, a built-in.
    context = make_context(user)
    catalog.call(context, f"{MARKER}_tool", {})
    catalog.call(context, f"mcp:own-{MARKER}/{tool}", {})
    catalog.call(context, "calculator", {"expression": "1+1"})

    points = dimensions(emitted(capsys.readouterr().out))
    metrics = {metric for metric, _, _ in points}
    assert {"MCPOperations", "MCPErrors", "LLMCalls", "LLMErrors", "AgentToolCalls"} <= metrics
    for metric, name, value in points:
        assert MARKER not in value and "127.0.0.1" not in value, (metric, name, value)
        assert value in allowed()[name], (metric, name, value)
    assert ("MCPOperations", "server", "custom") in points and ("MCPOperations", "tool", "other") in points
    assert ("MCPOperations", "server", "deepwiki") in points
    assert ("MCPOperations", "tool", "read_wiki_structure") in points
    assert ("LLMCalls", "model", "other") in points

    # The detail is the user's, in Postgres: the statistics still name the server, tool and model.
    stats = usage.stats(identity, window_hours=1)
    assert (f"custom:127.0.0.1:{own_server.port}", tool) in {
        (row.server_name, row.tool) for row in stats.usage
    }
    _, report, _ = request("LlmMetricsFunction", token)
    assert {row["model"] for row in report["models"]} == {model}

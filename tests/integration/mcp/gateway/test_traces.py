"""The spans of MCP calls through the gateway: named by server, tool, operation and protocol, as
the metrics name them (a user's own server and its tools are "custom" and "other"), in the trace
of the request, with the database transactions beside them; never a credential, an argument or
a result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.mcp_servers import LoopbackServer, deepwiki_app
from tests.integration.mcp.gateway.test_api_keys import KEY, connect
from tests.support.environment import forget_caches

QUESTION = "How do hooks keep their state between renders?"


@pytest.fixture
def deepwiki(gateway: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LoopbackServer]:
    with LoopbackServer(deepwiki_app(), name="deepwiki-traces") as server:
        config = tmp_path / "traces.yaml"
        config.write_text(
            f"""
version: 1
servers:
  deepwiki: {{display_name: DeepWiki, endpoint: "{server.url}", auth: {{kind: bearer, required: false}}}}
  memory: {{display_name: Memory, hosted: true, path: /mcp/memory}}
  sequential-thinking: {{display_name: Sequential Thinking, hosted: true, path: /mcp/sequential-thinking}}
  supabase: {{display_name: Supabase, endpoint: "{server.url}", auth: {{kind: bearer}}}}
"""
        )
        gateway.setenv("MCP_CONFIG_PATH", str(config))
        forget_caches()
        yield server


def _attribute_text(finished: Any) -> str:
    return finished.name + repr(dict(finished.attributes or {})) + repr(finished.status.description)


def test_a_registry_tool_call_is_a_client_span_inside_the_request_without_its_content(
    api: Any, make_user_id: Any, deepwiki: LoopbackServer, spans: Any, token_for: Any
) -> None:
    user = make_user_id()
    _, connection = connect(api, user, {"server_type": "deepwiki", "credentials": {"api_key": KEY}})
    spans.clear()
    before = len(deepwiki.log.requests)

    status, asked, _ = api(
        "McpDeepWikiAskFunction",
        user,
        body={
            "connection_id": connection["connection_id"],
            "repo_name": "facebook/react",
            "question": QUESTION,
        },
    )

    assert status == 200, asked
    finished = spans.get_finished_spans()
    (request,) = [s for s in finished if s.parent is None]
    (call,) = [s for s in finished if s.name.startswith("mcp ")]
    assert request.name == "POST /api/v1/mcp/deepwiki/ask"
    assert request.attributes["http.response.status_code"] == 200
    assert call.kind.name == "CLIENT" and call.parent.span_id == request.context.span_id
    assert dict(call.attributes) == {
        "mcp.server": "deepwiki",
        "mcp.tool": "ask_question",
        "mcp.operation": "call_tool",
        "mcp.protocol": call.attributes["mcp.protocol"],
        "mcp.attempts": 1,
    }
    transactions = [s for s in finished if s.name == "db transaction"]
    assert len(transactions) >= 2 and {s.context.trace_id for s in finished} == {request.context.trace_id}
    text = "".join(_attribute_text(s) for s in finished)
    for secret in (KEY, QUESTION, "facebook/react", token_for(user), connection["connection_id"]):
        assert secret not in text
    # The MCP SDK's own spans are not recorded, and our trace context does not leave with the call.
    assert {s.name for s in finished} == {request.name, call.name, "db transaction"}
    (sent,) = [seen for seen in deepwiki.log.requests[before:] if seen.rpc_method == "tools/call"]
    assert b"traceparent" not in sent.body and "traceparent" not in sent.headers


def test_a_failed_call_to_a_users_own_server_is_named_custom_with_its_error_code(
    api: Any, make_user_id: Any, spans: Any
) -> None:
    user = make_user_id()
    with LoopbackServer(deepwiki_app(), name="own-server") as own:
        url = own.url
        status, connection = connect(api, user, {"server_type": "custom", "endpoint": url, "name": "mine"})
        assert status == 201, connection
    spans.clear()  # the server is gone: the next call fails

    status, answer, _ = api(
        "McpCallToolFunction",
        user,
        path={"connection_id": connection["connection_id"], "tool": "ask_question"},
        body={"arguments": {"repoName": "a/b", "question": QUESTION}},
    )

    assert status >= 500, answer
    (call,) = [s for s in spans.get_finished_spans() if s.name == "mcp call_tool"]
    assert (call.attributes["mcp.server"], call.attributes["mcp.tool"]) == ("custom", "other")
    assert call.status.status_code.name == "ERROR"
    assert call.attributes["error.code"] == answer["error"]["code"]
    assert url.split("//")[1] not in "".join(_attribute_text(s) for s in spans.get_finished_spans())

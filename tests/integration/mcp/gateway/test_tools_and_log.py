"""Tools through the gateway: listing, calling, argument checks, limits, breaker, the log and stats."""

from __future__ import annotations

import base64

import pytest

from auralink.db import tenant_transaction
from tests.fakes.mcp_servers import PNG_1X1
from tests.integration.mcp.gateway.conftest import write_config
from tests.support.environment import forget_caches


@pytest.fixture
def connection(api, make_user_id, stateless_mcp):
    user = make_user_id()
    status, body, _ = api(
        "McpConnectFunction", user, body={"server_type": "custom", "endpoint": stateless_mcp.url}
    )
    assert status == 201, body
    return user, body["connection_id"]


def call(api, user, connection_id, tool, arguments):
    return api(
        "McpCallToolFunction",
        user,
        path={"connection_id": connection_id, "tool": tool},
        body={"arguments": arguments},
    )


def test_tools_are_listed_from_the_cache_and_refetched_on_request(api, connection, stateless_mcp):
    user, connection_id = connection
    before = len(stateless_mcp.log.requests)

    status, cached, _ = api("McpListToolsFunction", user, path={"connection_id": connection_id})
    assert status == 200 and len(stateless_mcp.log.requests) == before
    echo = next(tool for tool in cached["tools"] if tool["name"] == "echo")
    assert echo["input_schema"]["properties"]["text"]["type"] == "string"

    _, refreshed, _ = api(
        "McpListToolsFunction", user, path={"connection_id": connection_id}, query={"refresh": "true"}
    )
    assert len(stateless_mcp.log.requests) > before
    assert refreshed["fetched_at"] > cached["fetched_at"]


def test_a_tool_call_keeps_mcps_result_shape(api, connection):
    user, connection_id = connection

    status, echoed, _ = call(api, user, connection_id, "echo", {"text": "hello"})
    _, added, _ = call(api, user, connection_id, "add", {"a": 2, "b": 3})
    _, image, _ = call(api, user, connection_id, "image", {})
    _, failed, _ = call(api, user, connection_id, "fails", {})

    assert status == 200
    assert echoed["result"]["content"] == [{"type": "text", "text": "hello"}]
    assert echoed["result"]["is_error"] is False and echoed["operation_id"] and echoed["latency_ms"] >= 0
    assert added["result"]["structured_content"] == {"sum": 5.0}
    (block,) = image["result"]["content"]
    assert block["type"] == "image" and base64.b64decode(block["data"]) == PNG_1X1
    assert failed["result"]["is_error"] is True


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"a": "two", "b": 3}, "arguments.a"), ({"a": 1}, "arguments")],
)
def test_arguments_are_checked_against_the_input_schema(api, connection, stateless_mcp, arguments, field):
    user, connection_id = connection
    before = len(stateless_mcp.log.requests)

    status, body, _ = call(api, user, connection_id, "add", arguments)

    assert (status, body["error"]["code"]) == (422, "invalid_tool_arguments")
    assert body["error"]["details"][0]["field"] == field
    assert len(stateless_mcp.log.requests) == before  # nothing was sent


def test_an_unknown_tool_is_404(api, connection):
    user, connection_id = connection
    status, body, _ = call(api, user, connection_id, "no_such_tool", {})
    assert (status, body["error"]["code"]) == (404, "tool_not_found")


def test_a_tool_missing_from_an_old_cached_list_is_fetched_again(api, connection, stateless_mcp):
    user, connection_id = connection
    with tenant_transaction(user) as conn:
        # The cached list lacks "echo", as if the server had added it since the list was fetched.
        conn.execute(
            "UPDATE user_mcp_connections SET tools = (SELECT jsonb_agg(t) FROM jsonb_array_elements(tools) t"
            " WHERE t->>'name' <> 'echo') WHERE id = %s",
            (connection_id,),
        )
    before = len(stateless_mcp.log.requests)

    fresh_status, fresh, _ = call(api, user, connection_id, "echo", {"text": "hi"})
    sent_while_fresh = len(stateless_mcp.log.requests) - before
    with tenant_transaction(user) as conn:
        conn.execute(
            "UPDATE user_mcp_connections SET tools_fetched_at = now() - interval '6 minutes' WHERE id = %s",
            (connection_id,),
        )
    old_status, old, _ = call(api, user, connection_id, "echo", {"text": "hi"})

    assert (fresh_status, fresh["error"]["code"]) == (404, "tool_not_found")  # a recent list is trusted
    assert sent_while_fresh == 0
    assert old_status == 200 and old["result"]["content"] == [{"type": "text", "text": "hi"}]
    with tenant_transaction(user) as conn:
        stored = conn.execute(
            "SELECT tools FROM user_mcp_connections WHERE id = %s", (connection_id,)
        ).fetchone()
    assert "echo" in {tool["name"] for tool in stored["tools"]}


def test_a_slow_tool_times_out_with_504(api, make_user_id, slow_mcp):
    user = make_user_id()
    _, body, _ = api("McpConnectFunction", user, body={"server_type": "custom", "endpoint": slow_mcp.url})

    status, answer, _ = call(api, user, body["connection_id"], "sleep", {"seconds": 5})

    assert (status, answer["error"]["code"]) == (504, "mcp_timeout")


def test_every_call_is_logged_and_counted(api, connection):
    user, connection_id = connection
    call(api, user, connection_id, "echo", {"text": "a"})
    call(api, user, connection_id, "echo", {"text": "b"})
    call(api, user, connection_id, "add", {"a": "x", "b": 1})  # refused before the call

    _, page, _ = api("McpOperationsFunction", user, query={"connection_id": connection_id, "limit": "1"})
    _, rest, _ = api(
        "McpOperationsFunction", user, query={"connection_id": connection_id, "cursor": page["next_cursor"]}
    )
    _, stats, _ = api("McpUsageStatsFunction", user, query={"window_hours": "1"})

    operations = page["operations"] + rest["operations"]
    assert [op["tool"] for op in operations] == ["echo", "echo"]
    assert all(op["status"] == "success" and op["request_bytes"] > 0 for op in operations)
    echo = next(row for row in stats["usage"] if row["tool"] == "echo")
    assert (echo["calls"], echo["errors"], echo["error_rate"]) == (2, 0, 0.0)
    assert echo["p50_latency_ms"] is not None and echo["p95_latency_ms"] >= echo["p50_latency_ms"]


def test_another_users_log_and_stats_are_invisible(api, connection, make_user_id):
    user, connection_id = connection
    call(api, user, connection_id, "echo", {"text": "a"})
    stranger = make_user_id("stranger")

    assert api("McpOperationsFunction", stranger)[1]["operations"] == []
    assert api("McpUsageStatsFunction", stranger)[1]["usage"] == []


def test_a_bad_cursor_is_422(api, make_user_id):
    status, body, _ = api("McpOperationsFunction", make_user_id(), query={"cursor": "garbage!"})
    assert (status, body["error"]["code"]) == (422, "invalid_cursor")


def test_the_per_user_rate_limit_answers_429_with_retry_after(api, gateway, connection, tmp_path):
    user, connection_id = connection
    # The connection's own handshake was the user's first operation of this minute.
    gateway.setenv("MCP_CONFIG_PATH", str(write_config(tmp_path / "limited.yaml", per_user=3)))
    forget_caches()

    statuses = [call(api, user, connection_id, "echo", {"text": str(n)})[0] for n in range(3)]
    status, body, headers = call(api, user, connection_id, "echo", {"text": "again"})

    assert statuses[:2] == [200, 200] and statuses[2] == 429
    assert (status, body["error"]["code"]) == (429, "rate_limited_user")
    assert 1 <= int(headers["Retry-After"]) <= 60
    _, page, _ = api("McpOperationsFunction", user, query={"connection_id": connection_id})
    assert [op["status"] for op in page["operations"]][:2] == ["rejected", "rejected"]


def test_a_failing_server_opens_its_circuit(api, gateway, make_user_id, canned_server, tmp_path):
    gateway.setenv("MCP_CONFIG_PATH", str(write_config(tmp_path / "breaker.yaml", threshold=2)))
    forget_caches()
    user = make_user_id()
    endpoint = canned_server.base_url + "/status/500"

    first = [
        api("McpConnectFunction", user, body={"server_type": "custom", "endpoint": endpoint})
        for _ in range(2)
    ]
    status, body, headers = api(
        "McpConnectFunction", user, body={"server_type": "custom", "endpoint": endpoint}
    )

    assert [(s, b["error"]["code"]) for s, b, _ in first] == [(502, "mcp_http_error")] * 2
    assert (status, body["error"]["code"]) == (503, "circuit_open")
    assert 1 <= int(headers["Retry-After"]) <= 30


def test_overloaded_servers_are_retried_then_reported(api, make_user_id, canned_server):
    user = make_user_id()
    endpoint = canned_server.base_url + "/status/503"

    status, body, _ = api("McpConnectFunction", user, body={"server_type": "custom", "endpoint": endpoint})

    assert (status, body["error"]["code"]) == (502, "mcp_overloaded")
    _, page, _ = api("McpOperationsFunction", user)
    assert page["operations"][0]["attempts"] == 3


def test_garbage_is_a_protocol_error(api, make_user_id, canned_server):
    endpoint = canned_server.base_url + "/garbage/not-jsonrpc"
    status, body, _ = api(
        "McpConnectFunction", make_user_id(), body={"server_type": "custom", "endpoint": endpoint}
    )
    assert (status, body["error"]["code"]) == (502, "mcp_protocol_error")


def test_shortcuts_refuse_a_connection_to_another_server(api, connection):
    user, connection_id = connection
    status, body, _ = api(
        "McpDeepWikiReadFunction", user, body={"connection_id": connection_id, "repo_name": "a/b"}
    )
    assert (status, body["error"]["code"]) == (422, "connection_server_mismatch")


def test_a_hosted_shortcut_without_a_connection_says_how_to_connect(api, make_user_id):
    status, body, _ = api("McpMemoryFunction", make_user_id(), path={"operation": "read_graph"}, body={})
    assert (status, body["error"]["code"]) == (404, "connection_not_found")
    assert "connect" in body["error"]["message"]


def test_the_registry_lists_the_seeded_servers(api, make_user_id):
    status, body, _ = api("McpServersFunction", make_user_id())
    servers = {server["name"]: server for server in body["servers"]}
    assert status == 200
    assert set(servers) == {"deepwiki", "memory", "sequential-thinking", "supabase"}
    assert servers["deepwiki"]["endpoint"] == "https://mcp.deepwiki.com/mcp"
    assert servers["memory"]["type"] == "self-hosted" and servers["memory"]["endpoint"].endswith(
        "/mcp/memory"
    )
    assert "ask_question" in servers["deepwiki"]["tools"] and servers["supabase"]["auth_kind"] == "bearer"


def test_a_server_on_the_handshake_is_not_probed_again(api, make_user_id, legacy_mcp):
    user = make_user_id()
    _, body, _ = api("McpConnectFunction", user, body={"server_type": "custom", "endpoint": legacy_mcp.url})
    before = len(legacy_mcp.log.requests)

    status, _, _ = call(api, user, body["connection_id"], "echo", {"text": "hi"})

    methods = [seen.rpc_method for seen in legacy_mcp.log.requests[before:]]
    assert status == 200
    assert "server/discover" not in methods and "initialize" in methods


def test_a_stateless_mcp_is_called_without_a_new_probe(api, connection, stateless_mcp):
    user, connection_id = connection
    before = len(stateless_mcp.log.requests)

    call(api, user, connection_id, "echo", {"text": "hi"})

    methods = [seen.rpc_method for seen in stateless_mcp.log.requests[before:]]
    assert methods == ["tools/call"]

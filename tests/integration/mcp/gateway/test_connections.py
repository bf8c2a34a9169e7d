"""Connecting MCP servers, reading, testing and deleting connections, across tenants."""

from __future__ import annotations

from uuid import uuid4

import pytest

from auralink.errors import ValidationFailed
from auralink.mcp.targets import check_custom_endpoint
from tests.fakes.mcp_servers import PROTECTED_TOKEN as BEARER
from tests.support.environment import forget_caches


def connect(api, user, server, **extra):
    return api("McpConnectFunction", user, body={"server_type": "custom", "endpoint": server.url, **extra})


@pytest.mark.parametrize("fixture", ["stateless_mcp", "legacy_mcp"])
def test_connecting_talks_to_the_server_and_stores_its_tools(api, make_user_id, request, fixture):
    server = request.getfixturevalue(fixture)
    user = make_user_id()

    status, body, _ = connect(api, user, server, name="tools")

    assert status == 201, body
    assert body["status"] == "connected" and body["server_type"] == "custom" and body["name"] == "tools"
    assert body["server_name"] == "127.0.0.1"
    assert body["tool_count"] == len(body["capabilities"]) >= 60
    assert {"echo", "add"} <= set(body["capabilities"]) and "tools" in body["server_capabilities"]
    assert body["protocol_version"] == ("2026-07-28" if fixture == "stateless_mcp" else "2025-11-25")
    _, listed, _ = api("McpListConnectionsFunction", user)
    assert [c["connection_id"] for c in listed["connections"]] == [body["connection_id"]]


def test_an_unreachable_server_gives_502_and_no_connection(api, make_user_id):
    user = make_user_id()

    status, body, _ = api(
        "McpConnectFunction", user, body={"server_type": "custom", "endpoint": "http://127.0.0.1:9/mcp"}
    )

    assert (status, body["error"]["code"]) == (502, "mcp_unreachable")
    assert api("McpListConnectionsFunction", user)[1]["connections"] == []
    _, operations, _ = api("McpOperationsFunction", user)
    (failed,) = operations["operations"]
    assert (failed["operation"], failed["status"], failed["error_code"]) == (
        "connect",
        "error",
        "mcp_unreachable",
    )
    assert failed["attempts"] == 3  # connection refused is safe to retry


@pytest.mark.parametrize(
    ("endpoint", "code"),
    [
        ("http://169.254.169.254/latest/meta-data", "endpoint_not_allowed"),
        ("http://10.0.0.1/mcp", "endpoint_not_allowed"),
        ("ftp://127.0.0.1/mcp", "endpoint_not_allowed"),
    ],
)
def test_custom_endpoints_pass_the_ssrf_guard(api, make_user_id, endpoint, code):
    status, body, _ = api(
        "McpConnectFunction", make_user_id(), body={"server_type": "custom", "endpoint": endpoint}
    )
    assert (status, body["error"]["code"]) == (422, code)


def test_loopback_endpoints_are_refused_unless_explicitly_allowed(api, gateway, make_user_id, stateless_mcp):
    # Given a development stage (as the deployed dev stack is) without ALLOW_LOOPBACK_ENDPOINTS
    gateway.delenv("ALLOW_LOOPBACK_ENDPOINTS")
    forget_caches()

    with pytest.raises(ValidationFailed) as caught:
        check_custom_endpoint(stateless_mcp.url)
    assert caught.value.code == "endpoint_not_allowed"
    before = len(stateless_mcp.log.requests)
    status, body, _ = api(
        "McpConnectFunction", make_user_id(), body={"server_type": "custom", "endpoint": stateless_mcp.url}
    )
    assert (status, body["error"]["code"]) == (422, "endpoint_not_allowed")
    assert len(stateless_mcp.log.requests) == before  # nothing was sent


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"server_type": "gopher"}, "body.server_type"),
        ({"server_type": "custom", "endpoint": "http://127.0.0.1/mcp", "name": "bad name!"}, "body.name"),
        ({"server_type": "custom", "credentials": {"headers": {"Host": "x"}}}, "body.credentials.headers"),
        ({"server_type": "custom", "extra": 1}, "body.extra"),
    ],
)
def test_bad_requests_are_422_naming_the_field(api, make_user_id, body, field):
    status, answer, _ = api("McpConnectFunction", make_user_id(), body=body)
    assert status == 422
    assert field in {detail["field"] for detail in answer["error"]["details"]}


def test_a_custom_server_needs_an_endpoint_and_registry_servers_take_none(api, make_user_id):
    user = make_user_id()
    assert (
        api("McpConnectFunction", user, body={"server_type": "custom"})[1]["error"]["code"]
        == "endpoint_required"
    )
    status, body, _ = api(
        "McpConnectFunction", user, body={"server_type": "deepwiki", "endpoint": "https://example.com/mcp"}
    )
    assert (status, body["error"]["code"]) == (422, "endpoint_not_allowed")


def test_supabase_needs_a_token(api, make_user_id):
    status, body, _ = api("McpConnectFunction", make_user_id(), body={"server_type": "supabase"})
    assert (status, body["error"]["code"]) == (422, "credentials_required")


@pytest.mark.parametrize(
    ("credentials", "field"),
    [
        ({"token": "caf\u00e9-token"}, "body.credentials.token"),
        ({"token": "two words"}, "body.credentials.token"),
        ({"headers": {"X-Api-Key": "k\u00adey"}}, "body.credentials.headers"),
        ({"headers": {"X-Api-Key": "line\u0001break"}}, "body.credentials.headers"),
    ],
)
def test_credentials_an_http_header_cannot_carry_are_422(api, make_user_id, credentials, field):
    # Sent as headers to the server: anything but visible ASCII would fail on the way out.
    status, body, _ = api(
        "McpConnectFunction", make_user_id(), body={"server_type": "deepwiki", "credentials": credentials}
    )

    assert (status, body["error"]["code"]) == (422, "validation_failed")
    assert body["error"]["details"][0]["field"] == field


def test_names_are_unique_per_user(api, make_user_id, stateless_mcp):
    alice, bob = make_user_id("alice"), make_user_id("bob")
    assert connect(api, alice, stateless_mcp, name="same")[0] == 201
    status, body, _ = connect(api, alice, stateless_mcp, name="same")
    assert (status, body["error"]["code"]) == (409, "connection_name_taken")
    assert connect(api, bob, stateless_mcp, name="same")[0] == 201


def test_credentials_reach_the_server_and_never_come_back(api, make_user_id, protected_mcp, capsys):
    user = make_user_id()

    refused = connect(api, user, protected_mcp)
    status, body, _ = connect(api, user, protected_mcp, credentials={"token": BEARER})
    _, read, _ = api("McpGetConnectionFunction", user, path={"connection_id": body["connection_id"]})

    assert (refused[0], refused[1]["error"]["code"]) == (502, "mcp_auth_failed")
    assert status == 201 and body["has_credentials"] is True
    assert BEARER not in str(body) and BEARER not in str(read)
    assert BEARER not in capsys.readouterr().out


def test_credentials_are_stored_encrypted(api, make_user_id, protected_mcp, owner_conn):
    user = make_user_id()
    assert connect(api, user, protected_mcp, credentials={"token": BEARER})[0] == 201
    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (user,))
        row = owner_conn.execute("SELECT credentials FROM user_mcp_connections").fetchone()
    assert row["credentials"].startswith("v1.") and BEARER not in row["credentials"]


def test_a_connection_test_reports_status_and_latency(api, make_user_id, stateless_mcp, canned_server):
    user = make_user_id()
    _, good, _ = connect(api, user, stateless_mcp)

    status, result, _ = api("McpTestConnectionFunction", user, path={"connection_id": good["connection_id"]})

    assert status == 200
    assert result["status"] == "ok" and result["latency_ms"] >= 0
    assert result["protocol_version"] == "2026-07-28"
    _, read, _ = api("McpGetConnectionFunction", user, path={"connection_id": good["connection_id"]})
    assert read["last_tested_at"] is not None and read["status"] == "connected"


def test_another_user_cannot_see_test_call_or_delete_a_connection(api, make_user_id, stateless_mcp):
    alice, mallory = make_user_id("alice"), make_user_id("mallory")
    _, body, _ = connect(api, alice, stateless_mcp)
    path = {"connection_id": body["connection_id"]}

    for function_id in ("McpGetConnectionFunction", "McpTestConnectionFunction", "McpListToolsFunction"):
        status, answer, _ = api(function_id, mallory, path=path)
        assert (status, answer["error"]["code"]) == (404, "connection_not_found"), function_id
    status, answer, _ = api(
        "McpCallToolFunction", mallory, path={**path, "tool": "echo"}, body={"arguments": {"text": "hi"}}
    )
    assert (status, answer["error"]["code"]) == (404, "connection_not_found")
    status, answer, _ = api("McpDeleteConnectionFunction", mallory, path=path)
    assert (status, answer["error"]["code"]) == (404, "connection_not_found")
    assert api("McpListConnectionsFunction", mallory)[1]["connections"] == []
    assert api("McpGetConnectionFunction", alice, path=path)[0] == 200


def test_deleting_a_connection(api, make_user_id, stateless_mcp):
    user = make_user_id()
    _, body, _ = connect(api, user, stateless_mcp)
    path = {"connection_id": body["connection_id"]}

    assert api("McpDeleteConnectionFunction", user, path=path)[0] == 204
    assert api("McpGetConnectionFunction", user, path=path)[0] == 404
    assert api("McpDeleteConnectionFunction", user, path=path)[0] == 404


def test_unknown_and_malformed_ids_are_404_and_422(api, make_user_id):
    user = make_user_id()
    assert api("McpGetConnectionFunction", user, path={"connection_id": str(uuid4())})[0] == 404
    assert api("McpGetConnectionFunction", user, path={"connection_id": "not-a-uuid"})[0] == 422


def test_every_route_needs_a_token(api):
    assert api("McpListConnectionsFunction", None)[0] == 401
    assert api("McpConnectFunction", None, body={"server_type": "custom"})[0] == 401

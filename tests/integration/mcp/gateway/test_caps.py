"""The caps a user and a server meet at the gateway: connections per user, what a server may send."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from auralink.mcp import repository
from tests.fakes.flood_server import FloodLog, flood_app
from tests.fakes.mcp_servers import LoopbackServer
from tests.integration.mcp.gateway.conftest import write_config
from tests.support.environment import forget_caches


@pytest.fixture(scope="module")
def flood() -> Iterator[tuple[LoopbackServer, FloodLog]]:
    log = FloodLog()
    with LoopbackServer(flood_app(log), name="flood-gateway") as server:
        yield server, log


def _with_caps(gateway: pytest.MonkeyPatch, tmp_path: Path, caps: str) -> None:
    """The test mcp-config with `response_caps` in its defaults."""
    path = write_config(tmp_path / "capped.yaml")
    path.write_text(path.read_text().replace("defaults:\n", f"defaults:\n  response_caps: {{{caps}}}\n", 1))
    gateway.setenv("MCP_CONFIG_PATH", str(path))
    forget_caches()


def _connect(api, user, url, name=None):
    body = {"server_type": "custom", "endpoint": url, **({"name": name} if name else {})}
    return api("McpConnectFunction", user, body=body)


def _operations(api, user):
    return [
        (op["operation"], op["status"], op["error_code"])
        for op in api("McpOperationsFunction", user)[1]["operations"]
    ]


def test_a_server_that_sends_too_much_is_cut_off_and_the_connect_fails(
    api, gateway, tmp_path, make_user_id, flood
):
    _with_caps(gateway, tmp_path, "max_response_bytes: 65536")
    server, log = flood
    before = log.cut_off("list-json")
    user = make_user_id()

    status, body, _ = _connect(api, user, server.url_for("/flood/list-json/mcp"))

    assert (status, body["error"]["code"]) == (502, "mcp_response_too_large")
    assert "65536 bytes" in body["error"]["message"]
    assert api("McpListConnectionsFunction", user)[1]["connections"] == []
    assert _operations(api, user) == [("connect", "error", "mcp_response_too_large")]
    for _ in range(500):  # the server notices the dropped connection within moments
        if log.cut_off("list-json") > before:
            break
        time.sleep(0.02)
    assert log.cut_off("list-json") > before


def test_a_tool_call_whose_answer_is_too_large_fails_and_is_logged(
    api, gateway, tmp_path, make_user_id, flood
):
    _with_caps(gateway, tmp_path, "max_response_bytes: 65536")
    server, _ = flood
    user = make_user_id()
    status, connection, _ = _connect(api, user, server.url_for("/flood/call-sse/mcp"))
    assert status == 201, connection

    status, body, _ = api(
        "McpCallToolFunction",
        user,
        path={"connection_id": connection["connection_id"], "tool": "echo"},
        body={"arguments": {"text": "x"}},
    )

    assert (status, body["error"]["code"]) == (502, "mcp_response_too_large")
    assert ("call_tool", "error", "mcp_response_too_large") in _operations(api, user)


@pytest.mark.parametrize(
    ("caps", "code"),
    [("max_tools: 10", "mcp_too_many_tools"), ("max_tool_schema_bytes: 2048", "mcp_tool_schemas_too_large")],
)
def test_a_tool_list_over_the_caps_is_refused_at_connect(
    api, gateway, tmp_path, make_user_id, stateless_mcp, caps, code
):
    _with_caps(gateway, tmp_path, caps)
    user = make_user_id()

    status, body, _ = _connect(api, user, stateless_mcp.url)

    assert (status, body["error"]["code"]) == (502, code)
    assert api("McpListConnectionsFunction", user)[1]["connections"] == []
    assert _operations(api, user) == [("connect", "error", code)]


def test_connections_past_the_cap_are_refused_before_the_server_is_called(
    api, gateway, make_user_id, stateless_mcp
):
    gateway.setenv("MAX_CONNECTIONS_PER_USER", "2")
    forget_caches()
    user = make_user_id()
    for name in ("one", "two"):
        assert _connect(api, user, stateless_mcp.url, name)[0] == 201

    status, body, _ = _connect(api, user, stateless_mcp.url, "three")

    assert (status, body["error"]["code"]) == (409, "connection_limit_reached")
    assert "2 MCP connections" in body["error"]["message"]
    assert len(_operations(api, user)) == 2  # the refused connect never reached the server
    # The cap is per user: another user still connects.
    assert _connect(api, make_user_id(), stateless_mcp.url)[0] == 201
    # A deleted connection frees its place.
    first = api("McpListConnectionsFunction", user)[1]["connections"][0]["connection_id"]
    assert api("McpDeleteConnectionFunction", user, path={"connection_id": first})[0] == 204
    assert _connect(api, user, stateless_mcp.url, "three")[0] == 201


def test_two_connects_racing_for_the_last_place_cannot_both_take_it(
    api, gateway, make_user_id, stateless_mcp, app_dsn, admin_conn
):
    gateway.setenv("MAX_CONNECTIONS_PER_USER", "1")
    forget_caches()
    user = make_user_id()
    outcome: list[tuple[int, dict]] = []

    with psycopg.connect(app_dsn, row_factory=dict_row, prepare_threshold=None) as rival, rival.transaction():
        # Given another connect that has taken the last place and not yet committed,
        rival.execute("SELECT set_config('app.current_user_id', %s, true)", (user,))
        repository.lock_connections_of(rival, user)
        assert repository.count(rival) == 0
        repository.insert(rival, _row(user))
        # when a second connect gets as far as storing its connection,
        racer = threading.Thread(target=lambda: outcome.append(_connect(api, user, stateless_mcp.url)[:2]))
        racer.start()
        _wait_for_lock_waiter(admin_conn, racer)
        # then it waits for the first to commit (the lock), and counts what the first added.
    racer.join(timeout=60)

    assert [(status, body["error"]["code"]) for status, body in outcome] == [
        (409, "connection_limit_reached")
    ]
    assert [c["name"] for c in api("McpListConnectionsFunction", user)[1]["connections"]] == ["rival"]


def _row(user: str) -> dict:
    return {
        "id": uuid.uuid4(),
        "user_id": user,
        "server_id": None,
        "name": "rival",
        "endpoint": "https://rival.example/mcp",
        "credentials": None,
        "tools": [],
        "now": datetime.now(UTC),
        "latency_ms": 1,
        "protocol_version": "2026-07-28",
        "discover_result": None,
        "server_info": {},
    }


def _wait_for_lock_waiter(admin_conn, racer: threading.Thread) -> None:
    """Until some transaction waits on a user's lock row (`quota_locks`)."""
    for _ in range(3000):
        waiting = admin_conn.execute(
            "SELECT count(*) AS n FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE '%%quota_locks%%'"
        ).fetchone()["n"]
        if waiting:
            return
        assert racer.is_alive(), "the second connect finished without waiting for the first"
        time.sleep(0.01)
    raise AssertionError("the second connect never waited for the first")

"""One user's failures never degrade the others' calls.

A user's own servers (custom endpoints, registry servers reached with the user's own
credentials) have a breaker and a server rate limit per user; a registry server reached without
them shares one breaker, which counts only the server's own failures, and those that one user can
provoke (5xx, timeouts) only when several users saw them. Every test plays the attack against a
real server on loopback: one host that serves MCP at /mcp and fails on any other path.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.mcp_servers import LoopbackServer, host_app
from tests.integration.mcp.gateway.conftest import write_config
from tests.support.environment import forget_caches

SHARED = "deepwiki"
STALL = {"seconds": 30}  # far beyond the calls' deadline


@pytest.fixture(scope="module")
def host() -> Iterator[LoopbackServer]:
    with LoopbackServer(host_app(), name="isolation-host") as server:
        yield server


@pytest.fixture
def configure(gateway: pytest.MonkeyPatch, tmp_path: Path):
    """An mcp-config with a low breaker threshold; DeepWiki (keyless, shared) at ``deepwiki``."""

    def write(
        *, deepwiki: str = "https://mcp.deepwiki.com/mcp", threshold: int = 2, per_server: int = 1000
    ) -> None:
        path = write_config(
            tmp_path / "isolation.yaml",
            per_server=per_server,
            threshold=threshold,
            deepwiki_endpoint=deepwiki,
            deepwiki_auth="{kind: bearer, required: false}",
        )
        gateway.setenv("MCP_CONFIG_PATH", str(path))
        forget_caches()

    return write


def connect(api, user: str, **body: Any) -> tuple[int, Any]:
    status, answer, _ = api("McpConnectFunction", user, body=body)
    return status, answer


def call(api, user: str, connection_id: str, tool: str, arguments: dict[str, Any]) -> tuple[int, Any]:
    status, answer, _ = api(
        "McpCallToolFunction",
        user,
        path={"connection_id": connection_id, "tool": tool},
        body={"arguments": arguments},
    )
    return status, answer


def code(answer: Any) -> str:
    return str(answer["error"]["code"])


def connects_and_calls(api, user: str, **body: Any) -> tuple[int, int]:
    """Connect, then call echo on the new connection: the two statuses."""
    status, answer = connect(api, user, **body)
    if status != 201:
        return status, 0
    called, result = call(api, user, answer["connection_id"], "echo", {"text": "still here"})
    assert called != 200 or result["result"]["content"] == [{"type": "text", "text": "still here"}]
    return status, called


def test_ten_failing_connects_to_a_path_leave_the_host_to_everyone_else(api, configure, make_user_id, host):
    configure(threshold=2)
    mallory, alice = make_user_id("mallory"), make_user_id("alice")

    failed = [
        code(connect(api, mallory, server_type="custom", endpoint=host.url_for("/status/404"))[1])
        for _ in range(10)
    ]

    # Her own circuit for the host opened after two failures; nobody else's did.
    assert failed[:2] == ["mcp_http_error"] * 2 and set(failed[2:]) == {"circuit_open"}
    assert connects_and_calls(api, alice, server_type="custom", endpoint=host.url) == (201, 200)


def test_refused_credentials_and_timeouts_of_one_user_leave_the_host_to_everyone_else(
    api, configure, make_user_id, host
):
    configure(threshold=2)
    mallory, alice = make_user_id("mallory"), make_user_id("alice")

    refused = [
        connect(api, mallory, server_type="custom", endpoint=host.url_for("/status/401")) for _ in range(4)
    ]
    _, connection = connect(api, mallory, server_type="custom", endpoint=host.url, name="slow")
    slow = [call(api, mallory, connection["connection_id"], "sleep", STALL) for _ in range(2)]
    after = call(api, mallory, connection["connection_id"], "echo", {"text": "x"})

    assert {(status, code(answer)) for status, answer in refused} == {(502, "mcp_auth_failed")}
    assert [(status, code(answer)) for status, answer in slow] == [(504, "mcp_timeout")] * 2
    assert (after[0], code(after[1])) == (503, "circuit_open")  # her own circuit
    assert "user:" not in after[1]["error"]["message"]  # named as she knows the server
    assert connects_and_calls(api, alice, server_type="custom", endpoint=host.url) == (201, 200)


def test_one_users_calls_do_not_use_up_another_users_server_limit(api, configure, make_user_id, host):
    configure(threshold=50, per_server=3)
    mallory, alice = make_user_id("mallory"), make_user_id("alice")

    statuses = [
        connect(api, mallory, server_type="custom", endpoint=host.url_for("/status/404")) for _ in range(4)
    ]

    assert [status for status, _ in statuses] == [502, 502, 502, 429]
    limited = statuses[-1][1]["error"]
    assert limited["code"] == "rate_limited_server" and "user:" not in limited["message"]
    assert connects_and_calls(api, alice, server_type="custom", endpoint=host.url) == (201, 200)


def test_one_users_slow_queries_do_not_open_the_shared_circuit(api, configure, make_user_id, host):
    configure(deepwiki=host.url, threshold=2)
    mallory, alice, bob = make_user_id("mallory"), make_user_id("alice"), make_user_id("bob")
    _, connection = connect(api, mallory, server_type=SHARED)

    slow = [call(api, mallory, connection["connection_id"], "sleep", STALL) for _ in range(3)]

    # Three timeouts past the threshold, all hers: the shared circuit stays closed.
    assert [(status, code(answer)) for status, answer in slow] == [(504, "mcp_timeout")] * 3
    assert call(api, mallory, connection["connection_id"], "echo", {"text": "x"})[0] == 200
    assert connects_and_calls(api, alice, server_type=SHARED) == (201, 200)

    # A second user's timeout: the server is slow for more than one caller, and the circuit opens.
    _, alices = connect(api, alice, server_type=SHARED, name="deepwiki-again")
    assert call(api, alice, alices["connection_id"], "sleep", STALL)[0] == 504
    status, answer = connect(api, bob, server_type=SHARED)
    assert (status, code(answer)) == (503, "circuit_open")
    assert answer["error"]["details"] == {"server": SHARED, "circuit": "open"}


def test_a_shared_servers_wrong_answers_to_one_user_never_open_its_circuit(
    api, configure, make_user_id, host
):
    configure(deepwiki=host.url_for("/status/404"), threshold=2)
    mallory = make_user_id("mallory")

    failed = {code(connect(api, mallory, server_type=SHARED)[1]) for _ in range(5)}

    assert failed == {"mcp_http_error"}  # every one reached the server: a 4xx says nothing against it


def test_the_users_own_credentials_give_a_registry_server_a_circuit_of_their_own(
    api, configure, make_user_id, host, owner_conn
):
    configure(deepwiki=host.url, threshold=2)
    mallory, alice = make_user_id("mallory"), make_user_id("alice")
    _, connection = connect(api, mallory, server_type=SHARED, credentials={"api_key": "mallorys-own-key"})

    slow = [call(api, mallory, connection["connection_id"], "sleep", STALL)[0] for _ in range(2)]
    after = call(api, mallory, connection["connection_id"], "echo", {"text": "x"})

    assert slow == [504, 504] and (after[0], code(after[1])) == (503, "circuit_open")
    assert connects_and_calls(api, alice, server_type=SHARED) == (201, 200)
    shared = owner_conn.execute("SELECT 1 FROM mcp_circuit_breakers WHERE server = %s", (SHARED,)).fetchall()
    assert shared == []  # her failures never reached the shared breaker
    (row,) = owner_conn.execute(
        "SELECT server FROM mcp_circuit_breakers WHERE server LIKE %s AND state = 'open'",
        (f"user:%/{SHARED}",),
    ).fetchall()
    assert mallory not in row["server"]  # a digest names her, never her subject


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_shared_circuit_opens_when_the_server_cannot_be_reached(api, configure, make_user_id):
    configure(deepwiki=f"http://127.0.0.1:{_refused_port()}/mcp", threshold=2)
    alice, bob = make_user_id("alice"), make_user_id("bob")

    first = [code(connect(api, alice, server_type=SHARED)[1]) for _ in range(2)]
    status, answer = connect(api, bob, server_type=SHARED)

    # Nobody can make a server unreachable for others: one user's word is enough.
    assert first == ["mcp_unreachable"] * 2
    assert (status, code(answer)) == (503, "circuit_open")


def test_the_shared_circuit_opens_on_server_errors_seen_by_several_users(api, configure, make_user_id, host):
    configure(deepwiki=host.url_for("/status/500"), threshold=2)
    mallory, alice, bob = make_user_id("mallory"), make_user_id("alice"), make_user_id("bob")

    mallorys = [code(connect(api, mallory, server_type=SHARED)[1]) for _ in range(3)]
    alices = code(connect(api, alice, server_type=SHARED)[1])
    status, answer = connect(api, bob, server_type=SHARED)

    assert mallorys == ["mcp_http_error"] * 3 and alices == "mcp_http_error"
    assert (status, code(answer)) == (503, "circuit_open")

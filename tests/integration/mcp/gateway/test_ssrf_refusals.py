"""An SSRF refusal says which rule refused, never the address a name resolved to: in the answer,
in the operation log and in the log lines (a private DNS must not be mappable through the API)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

PRIVATE = "10.1.2.3"


class LocalhostDns:
    """`localhost` as an attacker's DNS answers it once the connection exists: `PRIVATE` (DNS
    rebinding), or nothing at all (``address=None``). Counts the questions."""

    def __init__(self, real: Any, address: str | None = PRIVATE) -> None:
        self._real = real
        self._address = address
        self.answers = 0

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "localhost":
            return self._real(host, port, *args, **kwargs)
        self.answers += 1
        if self._address is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (self._address, int(port or 0)))]


@pytest.fixture
def localhost_connection(api, make_user_id, stateless_mcp):
    user = make_user_id()
    endpoint = f"http://localhost:{stateless_mcp.port}/mcp"
    status, body, _ = api("McpConnectFunction", user, body={"server_type": "custom", "endpoint": endpoint})
    assert status == 201, body
    return user, body["connection_id"]


def _call_echo(api, connection, dns: LocalhostDns, monkeypatch) -> tuple[int, Any]:
    """The connection's echo tool called while `localhost` resolves as ``dns`` says."""
    user, connection_id = connection
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    status, body, _ = api(
        "McpCallToolFunction",
        user,
        path={"connection_id": connection_id, "tool": "echo"},
        body={"arguments": {"text": "hi"}},
    )
    return status, body


def test_a_name_that_rebinds_to_a_private_address_is_refused_by_rule_in_answer_log_and_logs(
    api, localhost_connection, owner_conn, monkeypatch, capfd, caplog
):
    user, _ = localhost_connection
    dns = LocalhostDns(socket.getaddrinfo)
    status, body = _call_echo(api, localhost_connection, dns, monkeypatch)

    assert dns.answers == 1  # asked by the call's own connection alone, which was refused
    assert (status, body["error"]["code"]) == (422, "endpoint_not_allowed")
    assert "localhost resolves to a private address" in body["error"]["message"]
    assert body["error"]["details"] == {"reason": "address"}
    row = owner_conn.execute(
        "SELECT error_code, error_message FROM mcp_operation_logs"
        " WHERE user_id = %s AND operation = 'call_tool'",
        (user,),
    ).fetchone()
    assert row["error_code"] == "endpoint_not_allowed"
    assert "a private address" in row["error_message"]
    assert PRIVATE not in str(body) and PRIVATE not in row["error_message"]
    # Log records (their extra fields included) and the metrics printed to stdout.
    records = [json.dumps(vars(record), default=str) for record in caplog.records]
    printed = capfd.readouterr().out
    assert records and "MCPErrors" in printed  # both were seen
    assert not [record for record in records if PRIVATE in record]
    assert PRIVATE not in printed


def test_a_refused_custom_endpoint_names_the_rule_not_the_address(api, make_user_id, monkeypatch):
    # internal.example.net resolves (by the attacker's DNS) into the VPC
    real = socket.getaddrinfo

    def vpc_dns(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "internal.example.net":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PRIVATE, int(port or 0)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", vpc_dns)

    status, body, _ = api(
        "McpConnectFunction",
        make_user_id(),
        body={"server_type": "custom", "endpoint": "https://internal.example.net/mcp"},
    )

    assert (status, body["error"]["code"]) == (422, "endpoint_not_allowed")
    assert (
        body["error"]["message"] == "endpoint not allowed: internal.example.net resolves to a private address"
    )
    assert PRIVATE not in str(body)


def test_a_name_that_stopped_resolving_is_unreachable_at_once_not_retried(
    api, localhost_connection, owner_conn, monkeypatch
):
    user, _ = localhost_connection
    dns = LocalhostDns(socket.getaddrinfo, address=None)
    status, body = _call_echo(api, localhost_connection, dns, monkeypatch)

    assert (status, body["error"]["code"]) == (502, "mcp_unreachable")
    assert body["error"]["message"] == "The server's name does not resolve"
    assert dns.answers == 1
    row = owner_conn.execute(
        "SELECT error_code FROM mcp_operation_logs WHERE user_id = %s AND operation = 'call_tool'", (user,)
    ).fetchone()
    assert row["error_code"] == "mcp_unreachable"

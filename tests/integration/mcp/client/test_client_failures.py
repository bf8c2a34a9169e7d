"""Each way a server can fail, and the error (code, retryable flag) the client turns it into."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from auralink.mcp import client
from auralink.mcp.client import McpTarget
from auralink.mcp.errors import McpTimeout, McpUpstreamError
from tests.fakes.mcp_servers import LONG_ERROR_MESSAGE, LoopbackServer, slow_close, tools_app

DEADLINE_S = 5.0
PROTOCOLS = ["auto", "2025-11-25", "2026-07-28"]
SECRET = "sk-live-do-not-leak-4242"
# The deadline covers connect, probe or handshake, request and close; the rest is scheduling.
MARGIN_S = 0.5


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the socket is closed


def _call(url: str, protocol: str = "auto", deadline_s: float = DEADLINE_S) -> McpUpstreamError | McpTimeout:
    target = McpTarget(url, {"Authorization": f"Bearer {SECRET}"}, protocol)  # type: ignore[arg-type]
    with pytest.raises((McpUpstreamError, McpTimeout)) as raised:
        client.call_tool(target, "echo", {"text": "x"}, deadline_s=deadline_s)
    return raised.value


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (500, "mcp_http_error", False),
        (404, "mcp_http_error", False),
        (400, "mcp_http_error", False),
        (503, "mcp_overloaded", True),
        (502, "mcp_overloaded", True),
        (504, "mcp_overloaded", True),
        (429, "mcp_overloaded", True),
        (401, "mcp_auth_failed", False),
        (403, "mcp_auth_failed", False),
    ],
)
def test_http_statuses(failing_mcp, protocol, status, code, retryable):
    error = _call(failing_mcp.url_for(f"/status/{status}"), protocol)

    assert isinstance(error, McpUpstreamError)
    assert (error.code, error.retryable) == (code, retryable)
    assert error.details == {"http_status": status}


@pytest.mark.parametrize("status", [400, 500])
def test_a_jsonrpc_error_in_an_error_status_is_the_servers_answer(failing_mcp, status):
    error = _call(failing_mcp.url_for(f"/status/{status}/jsonrpc"), "2026-07-28")

    assert (error.code, error.retryable) == ("mcp_server_error", False)
    assert error.details == {
        "server_code": -32602,
        "server_message": f"refused with HTTP {status}",
        "http_status": status,
    }


def test_a_server_error_keeps_its_code_and_a_shortened_message(garbage_mcp):
    error = _call(garbage_mcp.url_for("/garbage/long-error"), "2025-11-25")

    assert (error.code, error.retryable) == ("mcp_server_error", False)
    assert error.details["server_code"] == -32000
    assert error.details["server_message"] == LONG_ERROR_MESSAGE[:300]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "kind", ["not-json", "not-jsonrpc", "wrong-content-type", "no-result", "accepted", "sse-without-answer"]
)
def test_garbage_is_a_protocol_error(garbage_mcp, protocol, kind):
    error = _call(garbage_mcp.url_for(f"/garbage/{kind}"), protocol)

    assert (error.code, error.retryable) == ("mcp_protocol_error", False)


@pytest.mark.parametrize("protocol", ["auto", "2026-07-28"])
def test_an_unknown_tool(stateless_mcp, legacy_mcp, protocol):
    for server in (stateless_mcp, legacy_mcp) if protocol == "auto" else (stateless_mcp,):
        with pytest.raises(McpUpstreamError) as raised:
            client.call_tool(McpTarget(server.url, {}, protocol), "no_such_tool", {}, deadline_s=DEADLINE_S)

        assert (raised.value.code, raised.value.retryable) == ("mcp_tool_not_found", False)
        assert raised.value.details["server_message"] == "Unknown tool: no_such_tool"


def test_a_refused_connection_is_unreachable_and_retryable():
    error = _call(f"http://127.0.0.1:{_refused_port()}/mcp")

    assert (error.code, error.retryable) == ("mcp_unreachable", True)


def test_a_name_that_does_not_resolve_is_unreachable():
    error = _call("http://mcp.does-not-exist.invalid/mcp")

    assert (error.code, error.retryable) == ("mcp_unreachable", True)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_no_redirect_is_followed(garbage_mcp, stateless_mcp, tagged, protocol):
    # The redirect points at a server that would answer the call.
    elsewhere = tagged(stateless_mcp)
    redirecting = McpTarget(
        garbage_mcp.url_for(f"/redirect?to={elsewhere.target.url}"), elsewhere.target.headers, protocol
    )

    with pytest.raises(McpUpstreamError) as raised:
        client.call_tool(redirecting, "echo", {"text": "x"}, deadline_s=DEADLINE_S)

    assert (raised.value.code, raised.value.retryable) == ("mcp_http_error", False)
    assert raised.value.details == {"http_status": 307}
    assert elsewhere.seen() == []


def test_not_even_a_redirect_on_the_same_origin(garbage_mcp):
    error = _call(garbage_mcp.url_for(f"/redirect?to={garbage_mcp.url_for('/garbage/long-error')}"))

    assert (error.code, error.details) == ("mcp_http_error", {"http_status": 307})


@pytest.mark.parametrize(("fixture", "protocol"), [("slow_mcp", "auto"), ("stateless_mcp", "2026-07-28")])
def test_a_slow_tool_ends_at_the_deadline(request, fixture, protocol):
    server = request.getfixturevalue(fixture)
    deadline_s = 0.6
    started = time.monotonic()

    with pytest.raises(McpTimeout) as raised:
        client.call_tool(McpTarget(server.url, {}, protocol), "sleep", {"seconds": 30}, deadline_s=deadline_s)

    elapsed = time.monotonic() - started
    assert deadline_s <= elapsed < deadline_s + MARGIN_S
    assert (raised.value.code, raised.value.retryable) == ("mcp_timeout", False)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_server_that_never_answers_ends_at_the_deadline(garbage_mcp, protocol):
    deadline_s = 0.4
    started = time.monotonic()

    error = _call(garbage_mcp.url_for("/stall"), protocol, deadline_s=deadline_s)

    assert isinstance(error, McpTimeout)
    assert deadline_s <= time.monotonic() - started < deadline_s + MARGIN_S


def test_discover_and_list_tools_keep_the_deadline_too(garbage_mcp):
    target = McpTarget(garbage_mcp.url_for("/stall"), {})
    for operation in (client.discover, client.list_tools):
        started = time.monotonic()
        with pytest.raises(McpTimeout):
            operation(target, deadline_s=0.3)
        assert time.monotonic() - started < 0.3 + MARGIN_S


def test_a_slow_close_does_not_undo_an_answer():
    # The DELETE that ends the session outlasts the deadline; the tool's answer was already in.
    with LoopbackServer(slow_close(tools_app(stateless=False), delay_s=30), name="slow-close") as server:
        started = time.monotonic()

        result = client.call_tool(
            McpTarget(server.url, {}, "2025-11-25"), "echo", {"text": "x"}, deadline_s=0.5
        )

        assert result.content == [{"type": "text", "text": "x"}]
        assert time.monotonic() - started < 0.5 + MARGIN_S
        assert [seen.http_method for seen in server.log.requests][-1] == "DELETE"


def test_no_time_left_fails_at_once(stateless_mcp, tagged):
    call = tagged(stateless_mcp)

    with pytest.raises(McpTimeout):
        client.call_tool(call.target, "echo", {"text": "x"}, deadline_s=0)

    assert call.seen() == []


def test_failures_never_show_the_credentials(failing_mcp, garbage_mcp, caplog):
    caplog.set_level(logging.DEBUG)
    urls = [
        failing_mcp.url_for("/status/401"),
        failing_mcp.url_for("/status/503"),
        failing_mcp.url_for("/status/500/jsonrpc"),
        garbage_mcp.url_for("/garbage/not-json"),
        garbage_mcp.url_for("/garbage/sse-without-answer"),
        garbage_mcp.url_for(f"/redirect?to={failing_mcp.url_for('/status/200')}"),
        f"http://127.0.0.1:{_refused_port()}/mcp",
    ]
    errors = [_call(url, protocol) for url in urls for protocol in PROTOCOLS]
    errors.append(_call(garbage_mcp.url_for("/stall"), deadline_s=0.2))

    for error in errors:
        assert SECRET not in str(error)
        assert SECRET not in repr(error.details)
        assert SECRET not in repr(error.__cause__)
    assert caplog.records, "the SDK logs what it saw; none of it may carry the credentials"
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("path", "fault"),
    [
        ("/status/404", "request"),  # a wrong path
        ("/status/400", "request"),
        ("/status/422", "request"),
        ("/status/401", "request"),  # credentials refused
        ("/status/403", "request"),
        ("/status/400/jsonrpc", "request"),  # invalid params, in a 4xx
        ("/redirect?to=http://127.0.0.1:9/mcp", "request"),
        ("/status/500", "server"),
        ("/status/500/jsonrpc", "server"),
        ("/status/503", "server"),
        ("/status/429", "server"),
        ("/garbage/not-jsonrpc", "server"),
        ("/stall", "server"),  # no answer in time
    ],
)
def test_each_failure_says_whose_fault_it_is(garbage_mcp, path, fault):
    assert _call(garbage_mcp.url_for(path), "2026-07-28", deadline_s=1.0).fault == fault


def test_an_unknown_tool_and_no_time_left_are_the_requests_fault(stateless_mcp):
    target = McpTarget(stateless_mcp.url, {}, "2026-07-28")
    for name, deadline_s in (("no_such_tool", DEADLINE_S), ("echo", 0)):
        with pytest.raises((McpUpstreamError, McpTimeout)) as raised:
            client.call_tool(target, name, {}, deadline_s=deadline_s)
        assert raised.value.fault == "request"


def test_a_server_never_reached_is_unreachable_whoever_asks():
    assert _call(f"http://127.0.0.1:{_refused_port()}/mcp").fault == "unreachable"
    assert _call("http://mcp.does-not-exist.invalid/mcp").fault == "unreachable"

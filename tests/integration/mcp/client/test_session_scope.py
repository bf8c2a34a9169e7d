"""Sessions kept open in a scope (a run step): one handshake per server and credentials, never
shared between credentials, closed when the scope ends; a stale one costs a retry, not an error."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from starlette.responses import PlainTextResponse

from auralink.mcp import client, session_pool
from auralink.mcp.client import McpTarget
from auralink.mcp.errors import McpTimeout
from tests.fakes.mcp_servers import LoopbackServer, slow_app, tools_app
from tests.fakes.request_log import Receive, Scope, Send
from tests.support.environment import forget_caches

DEADLINE_S = 10.0


@pytest.fixture
def legacy() -> Iterator[LoopbackServer]:
    # Per test: a test counts its handshakes and may restart the server.
    with LoopbackServer(tools_app(stateless=False), name="legacy-scope") as server:
        yield server


def _target(server: LoopbackServer, tag: str, token: str = "user-a") -> McpTarget:
    headers = {"X-Test": tag, "Authorization": f"Bearer {token}"}
    return McpTarget(server.url, headers, "2025-11-25")


def _count(server: LoopbackServer, tag: str, *, rpc: str | None = None, method: str | None = None) -> int:
    return len(
        [
            seen
            for seen in server.log.tagged("X-Test", tag)
            if (rpc is None or seen.rpc_method == rpc) and (method is None or seen.http_method == method)
        ]
    )


def _echo(target: McpTarget, text: str) -> str:
    result = client.call_tool(target, "echo", {"text": text}, deadline_s=DEADLINE_S)
    return str(result.content[0]["text"])


def test_calls_in_a_scope_share_one_handshake_and_the_session_closes_at_the_end(legacy):
    tag = uuid.uuid4().hex
    target = _target(legacy, tag)

    with session_pool.scope() as pool:
        answers = [_echo(target, f"call {n}") for n in range(5)]
        tools = client.list_tools(target, deadline_s=DEADLINE_S)[1]
        assert _count(legacy, tag, method="DELETE") == 0

    assert answers == [f"call {n}" for n in range(5)]
    assert "echo" in {tool.name for tool in tools}
    assert _count(legacy, tag, rpc="initialize") == 1
    assert pool.opened == 1
    assert _count(legacy, tag, method="DELETE") == 1
    assert session_pool.current() is None


def test_without_a_scope_every_call_shakes_hands(legacy, service_environment):
    tag = uuid.uuid4().hex
    target = _target(legacy, tag)

    for n in range(3):
        _echo(target, str(n))

    assert _count(legacy, tag, rpc="initialize") == 3


def test_other_credentials_never_share_a_session(legacy):
    tag = uuid.uuid4().hex

    with session_pool.scope() as pool:
        for _ in range(2):
            _echo(_target(legacy, tag, token="user-a"), "a")
            _echo(_target(legacy, tag, token="user-b"), "b")

    assert pool.opened == 2
    assert _count(legacy, tag, rpc="initialize") == 2


class Forgetful:
    """A handshake server that can forget every session it gave out, as a restarted one does: a
    request with a forgotten session id gets the 2025-11-25 answer, 404."""

    def __init__(self) -> None:
        self.app = tools_app(stateless=False)
        self.seen: set[str] = set()
        self.forgotten: set[str] = set()

    def forget(self) -> None:
        self.forgotten |= self.seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            session = dict(scope["headers"]).get(b"mcp-session-id", b"").decode()
            if session in self.forgotten:
                await PlainTextResponse("Session not found", status_code=404)(scope, receive, send)
                return
            if session:
                self.seen.add(session)
        await self.app(scope, receive, send)


def test_a_session_the_server_forgot_costs_one_fresh_handshake():
    forgetful = Forgetful()
    tag = uuid.uuid4().hex
    with LoopbackServer(forgetful, name="forgetful") as server:
        target = _target(server, tag)
        with session_pool.scope() as pool:
            assert _echo(target, "before") == "before"
            forgetful.forget()

            assert _echo(target, "after") == "after"
            assert _echo(target, "again") == "again"

        assert pool.opened == 2
        assert _count(server, tag, rpc="initialize") == 2


def test_a_call_that_times_out_in_a_scope_closes_its_session_and_says_so():
    with LoopbackServer(slow_app(), name="slow-scope") as slow:
        target = McpTarget(slow.url, {}, "2025-11-25")
        with session_pool.scope() as pool:
            with pytest.raises(McpTimeout):
                client.call_tool(target, "sleep", {"seconds": 30}, deadline_s=0.5)
            assert not pool.holds((target.url, (), target.protocol, target.ssrf_guard, target.caps))


@pytest.fixture
def warm(monkeypatch: pytest.MonkeyPatch, service_environment) -> Iterator[session_pool.SessionPool]:
    """A warm container's pool, as the template's functions have (MCP_WARM_SESSIONS), entered
    the way each invocation of an API function enters it."""
    monkeypatch.setenv("MCP_WARM_SESSIONS", "true")
    forget_caches()
    with session_pool.kept_warm():
        pool = session_pool.current()
    assert pool is not None and session_pool.current() is None
    yield pool
    session_pool.forget_warm()


def _invocation(target: McpTarget, text: str) -> str:
    """One invocation of an API function in the same warm container."""
    with session_pool.kept_warm():
        return _echo(target, text)


def test_a_warm_container_reuses_a_session_from_one_invocation_to_the_next(legacy, warm):
    tag = uuid.uuid4().hex
    target = _target(legacy, tag)

    for invocation in range(3):
        assert _invocation(target, str(invocation)) == str(invocation)

    assert _count(legacy, tag, rpc="initialize") == 1
    assert warm.holds(
        (target.url, tuple(sorted(target.headers.items())), target.protocol, False, target.caps)
    )


def test_a_warm_session_idle_too_long_is_closed_not_reused(legacy, warm, monkeypatch):
    monkeypatch.setattr(warm, "_idle_s", 0.2)
    tag = uuid.uuid4().hex
    target = _target(legacy, tag)

    _invocation(target, "first")
    time.sleep(0.3)
    _invocation(target, "later")

    assert _count(legacy, tag, rpc="initialize") == 2
    assert _count(legacy, tag, method="DELETE") == 1  # the idle one, closed properly


def test_a_warm_container_keeps_a_bounded_number_of_sessions(legacy, warm, monkeypatch):
    monkeypatch.setattr(warm, "_max_sessions", 2)
    tag = uuid.uuid4().hex

    for user in ("a", "b", "c"):
        _invocation(_target(legacy, tag, token=user), user)
    _invocation(_target(legacy, tag, token="a"), "a again")  # "a" was the least recently used: evicted

    assert _count(legacy, tag, rpc="initialize") == 4

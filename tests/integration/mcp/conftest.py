"""MCP servers on loopback, one of each per test session (see `tests/fakes/mcp_servers.py`).

- `legacy_mcp`: the 2025-11-25 handshake, sessions, SSE replies; refuses the discover probe.
- `stateless_mcp`: the same tools on the stateless 2026-07-28 revision, JSON replies.
- `slow_mcp`: a handshake server whose `sleep{seconds}` tool outlasts any test deadline.
- `failing_mcp`: `url_for("/status/503")` answers that status (any code; `/status/400/jsonrpc`
  adds a JSON-RPC error body).
- `garbage_mcp`: `url_for("/garbage/<kind>")`, kinds `not-json`, `not-jsonrpc`,
  `wrong-content-type`, `no-result`, `accepted`, `sse-without-answer`, `long-error`; also
  `/redirect?to=<url>` (307) and `/stall` (never answers).
- `protected_mcp`: `stateless_mcp`'s tools behind `Authorization: Bearer PROTECTED_TOKEN`.
- `everything_mcp`: the published `@modelcontextprotocol/server-everything` (npm), on the handshake.

Every server records its requests (`server.log`); a test that counts requests on a shared
server sends a header of its own and reads `server.log.tagged(header, value)`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.everything_server import EverythingServer
from tests.fakes.mcp_servers import (
    PROTECTED_TOKEN,
    LoopbackServer,
    canned_app,
    require_bearer,
    slow_app,
    tools_app,
)


@pytest.fixture(scope="session")
def legacy_mcp() -> Iterator[LoopbackServer]:
    with LoopbackServer(tools_app(stateless=False), name="legacy") as server:
        yield server


@pytest.fixture(scope="session")
def stateless_mcp() -> Iterator[LoopbackServer]:
    with LoopbackServer(tools_app(stateless=True), name="stateless") as server:
        yield server


@pytest.fixture(scope="session")
def slow_mcp() -> Iterator[LoopbackServer]:
    with LoopbackServer(slow_app(), name="slow") as server:
        yield server


@pytest.fixture(scope="session")
def failing_mcp() -> Iterator[LoopbackServer]:
    with LoopbackServer(canned_app(), name="failing") as server:
        yield server


@pytest.fixture(scope="session")
def garbage_mcp() -> Iterator[LoopbackServer]:
    with LoopbackServer(canned_app(), name="garbage") as server:
        yield server


@pytest.fixture(scope="session")
def protected_mcp() -> Iterator[LoopbackServer]:
    with LoopbackServer(
        require_bearer(tools_app(stateless=True), PROTECTED_TOKEN), name="protected"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def everything_mcp() -> Iterator[EverythingServer]:
    with EverythingServer() as server:
        yield server

"""The workflow functions on the session database, called as API Gateway would, with a real MCP
server on loopback for the checks of MCP tool names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.mcp_servers import LoopbackServer, tools_app
from tests.support.handlers import request

Api = Callable[..., tuple[int, Any]]


@pytest.fixture(scope="session")
def tools_mcp() -> Iterator[LoopbackServer]:
    """The tools server of the MCP tests (echo, add, image, fails, region...), stateless revision."""
    with LoopbackServer(tools_app(stateless=True), name="workflow-tools") as server:
        yield server


@pytest.fixture
def workflows(credentials_key: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield credentials_key


@pytest.fixture
def api(workflows: pytest.MonkeyPatch, token_for: Callable[..., str]) -> Api:
    """api("GetWorkflowFunction", "alice", path={"workflow_id": ...}, body=..., query=...)."""

    def call(
        function_id: str,
        user: str | None,
        *,
        body: Any = None,
        path: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        token = None if user is None else token_for(user)
        status, answer, _ = request(function_id, token, body=body, path=path, query=query)
        return status, answer

    return call

"""The workflow functions on the session database, called as API Gateway would, with a real MCP
server on loopback for the checks of MCP tool names."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fakes.mcp_servers import LoopbackServer, tools_app
from tests.support.handlers import StatusAndBody, api_as_users

Api = StatusAndBody


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
    return api_as_users(token_for)

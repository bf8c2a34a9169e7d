"""The pipeline functions on the session database, called as API Gateway would, with a real MCP
server on loopback for the checks of MCP connections and tools."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fakes.mcp_servers import LoopbackServer, tools_app
from tests.support.handlers import StatusAndBody, api_as_users

Api = StatusAndBody


@pytest.fixture(scope="session")
def tools_mcp() -> Iterator[LoopbackServer]:
    """The tools server of the MCP tests (echo, add, image, fails, region...), stateless revision."""
    with LoopbackServer(tools_app(stateless=True), name="pipeline-tools") as server:
        yield server


@pytest.fixture
def api(credentials_key: pytest.MonkeyPatch, token_for: Callable[..., str]) -> Api:
    """api("GetPipelineFunction", "alice", path={"pipeline_id": ...}, body=..., query=...)."""
    return api_as_users(token_for)

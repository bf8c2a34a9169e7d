"""The workflow functions on the session database, called as API Gateway would, with a real MCP
server on loopback for the checks of MCP tool names."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from auralink.crypto import generate_key_material
from tests.fakes.mcp_servers import LoopbackServer, tools_app
from tests.support import environment
from tests.support.handlers import request

CREDENTIALS_KEY_SECRET_ID = "auralink/test/credentials-key"

Api = Callable[..., tuple[int, Any]]


@pytest.fixture(scope="session")
def tools_mcp() -> Iterator[LoopbackServer]:
    """The tools server of the MCP tests (echo, add, image, fails, region...), stateless revision."""
    with LoopbackServer(tools_app(stateless=True), name="workflow-tools") as server:
        yield server


@pytest.fixture
def workflows(service: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    boto3.client("secretsmanager").create_secret(
        Name=CREDENTIALS_KEY_SECRET_ID,
        SecretString=json.dumps({"active_key_id": "k1", "k1": generate_key_material()}),
    )
    service.setenv("CREDENTIALS_KEY_SECRET_ID", CREDENTIALS_KEY_SECRET_ID)
    environment.forget_caches()
    yield service


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

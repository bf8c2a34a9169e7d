"""The MCP gateway's functions against real MCP servers on loopback, on the session database.

The servers themselves are the session's (`tests/integration/mcp/conftest.py`), except the canned
one, which each test gets fresh because its failures feed a circuit breaker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from auralink.crypto import generate_key_material
from tests.fakes.mcp_servers import LoopbackServer, canned_app
from tests.support import environment
from tests.support.handlers import request

SERVICE_TOKEN_SECRET_ID = "auralink/test/service-token"  # a secret id
BEARER = "sk-test-bearer-0123456789"  # the test server's expected token


def write_config(
    path: Path,
    *,
    per_user: int = 1000,
    per_server: int = 1000,
    threshold: int = 50,
    deepwiki_endpoint: str = "https://mcp.deepwiki.com/mcp",
    deepwiki_auth: str = "{kind: none}",
) -> Path:
    path.write_text(
        f"""
version: 1
defaults:
  timeout_seconds: 2
  connect_timeout_seconds: 1
  retries: {{max_attempts: 3, base_delay_ms: 10, max_delay_ms: 50}}
  rate_limits: {{per_user_per_minute: {per_user}, per_server_per_minute: {per_server}}}
  circuit_breaker: {{failure_threshold: {threshold}, window_seconds: 60, open_seconds: 30}}
servers:
  deepwiki:
    display_name: DeepWiki
    endpoint: "{deepwiki_endpoint}"
    auth: {deepwiki_auth}
  memory:
    display_name: Memory
    hosted: true
    path: /mcp/memory
  sequential-thinking:
    display_name: Sequential Thinking
    hosted: true
    path: /mcp/sequential-thinking
  supabase:
    display_name: Supabase
    endpoint: https://mcp.supabase.com/mcp
    auth: {{kind: bearer}}
"""
    )
    return path


@pytest.fixture
def gateway(credentials_key: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """The service's environment with credential and service-token keys and a test mcp-config."""
    boto3.client("secretsmanager").create_secret(
        Name=SERVICE_TOKEN_SECRET_ID, SecretString=generate_key_material()
    )
    credentials_key.setenv("SERVICE_TOKEN_SECRET_ID", SERVICE_TOKEN_SECRET_ID)
    credentials_key.setenv("MCP_CONFIG_PATH", str(write_config(tmp_path / "mcp-config.yaml")))
    environment.forget_caches()
    yield credentials_key


@pytest.fixture
def canned_server() -> Iterator[LoopbackServer]:
    # Per test: its failures feed a circuit breaker that other tests must not inherit.
    with LoopbackServer(canned_app(), name="canned") as server:
        yield server


Api = Callable[..., tuple[int, Any, dict[str, str]]]


@pytest.fixture
def api(gateway: pytest.MonkeyPatch, token_for: Callable[..., str]) -> Api:
    """Call a function of the template as API Gateway would: api("McpConnectFunction", "alice", body=...)."""

    def call(
        function_id: str,
        user: str | None,
        *,
        body: Any = None,
        path: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        token = None if user is None else token_for(user)
        return request(function_id, token, body=body, path=path, query=query)

    return call

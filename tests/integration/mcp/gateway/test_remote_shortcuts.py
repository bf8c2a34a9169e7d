"""The DeepWiki and Supabase shortcuts, against servers on loopback that publish the same tools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from mcp.server import MCPServer

from tests.fakes.mcp_servers import LoopbackServer, deepwiki_app, require_bearer
from tests.support.environment import forget_caches

SUPABASE_TOKEN = "sbp_test_0123456789abcdef"  # the fake server's expected token


def supabase_app():
    server: MCPServer = MCPServer("Supabase", log_level="WARNING")

    @server.tool()
    def execute_sql(project_id: str, query: str) -> str:
        return f'[{{"project": "{project_id}", "rows": 3, "query": "{query}"}}]'

    return require_bearer(server.streamable_http_app(stateless_http=True, json_response=True), SUPABASE_TOKEN)


@pytest.fixture(scope="module")
def remote_servers() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    with (
        LoopbackServer(deepwiki_app(), name="deepwiki") as deepwiki,
        LoopbackServer(supabase_app(), name="supabase") as supabase,
    ):
        yield deepwiki, supabase


@pytest.fixture
def pointed_at_loopback(gateway, tmp_path: Path, remote_servers) -> None:
    deepwiki, supabase = remote_servers
    config = tmp_path / "remote.yaml"
    config.write_text(
        f"""
version: 1
servers:
  deepwiki: {{display_name: DeepWiki, endpoint: "{deepwiki.url}"}}
  memory: {{display_name: Memory, hosted: true, path: /mcp/memory}}
  sequential-thinking: {{display_name: Sequential Thinking, hosted: true, path: /mcp/sequential-thinking}}
  supabase: {{display_name: Supabase, endpoint: "{supabase.url}", auth: {{kind: bearer}}}}
"""
    )
    gateway.setenv("MCP_CONFIG_PATH", str(config))
    forget_caches()


def test_deepwiki_read_and_ask(api, make_user_id, pointed_at_loopback):
    user = make_user_id()
    status, connection, _ = api("McpConnectFunction", user, body={"server_type": "deepwiki"})
    assert status == 201, connection
    body = {"connection_id": connection["connection_id"], "repo_name": "modelcontextprotocol/python-sdk"}

    _, read, _ = api("McpDeepWikiReadFunction", user, body=body)
    _, asked, _ = api("McpDeepWikiAskFunction", user, body={**body, "question": "How?"})

    assert read["result"]["content"][0]["text"].startswith("# modelcontextprotocol/python-sdk")
    assert "How? -> it is documented" in asked["result"]["content"][0]["text"]


def test_deepwiki_repo_names_are_validated(api, make_user_id, pointed_at_loopback):
    status, body, _ = api(
        "McpDeepWikiReadFunction",
        make_user_id(),
        body={"connection_id": str(uuid4()), "repo_name": "../etc"},
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "body.repo_name"


def test_supabase_query_with_the_users_token(api, make_user_id, pointed_at_loopback, remote_servers):
    user = make_user_id()
    _, supabase = remote_servers
    status, connection, _ = api(
        "McpConnectFunction", user, body={"server_type": "supabase", "credentials": {"token": SUPABASE_TOKEN}}
    )
    assert status == 201, connection

    status, answer, _ = api(
        "McpSupabaseQueryFunction",
        user,
        body={"connection_id": connection["connection_id"], "project_id": "abcdef", "query": "select 1"},
    )

    assert status == 200
    assert '"project": "abcdef"' in answer["result"]["content"][0]["text"]
    assert all(seen.headers["authorization"] == f"Bearer {SUPABASE_TOKEN}" for seen in supabase.log.requests)

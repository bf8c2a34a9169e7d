"""The scheduled probe records each enabled server's health, and /health shows it."""

from __future__ import annotations

from pathlib import Path

from tests.support.environment import forget_caches
from tests.support.handlers import call_http, invoke, sample_event


def configure(gateway, tmp_path: Path, deepwiki_url: str) -> None:
    config = tmp_path / "probe.yaml"
    config.write_text(
        f"""
version: 1
defaults: {{timeout_seconds: 10, retries: {{max_attempts: 1}}}}
servers:
  deepwiki: {{display_name: DeepWiki, endpoint: "{deepwiki_url}"}}
  memory: {{display_name: Memory, hosted: true, path: /mcp/memory}}
  sequential-thinking: {{display_name: Sequential Thinking, enabled: false, hosted: true, path: /mcp/st}}
  supabase: {{display_name: Supabase, endpoint: "https://mcp.supabase.com/mcp", auth: {{kind: bearer}}}}
"""
    )
    gateway.setenv("MCP_CONFIG_PATH", str(config))
    # Nothing listens there: the hosted Memory server is down.
    gateway.setenv("PUBLIC_API_URL", "http://127.0.0.1:9")
    forget_caches()


def test_the_probe_checks_enabled_servers_and_health_shows_them(
    gateway, tmp_path, stateless_mcp, token_for, make_user_id
):
    configure(gateway, tmp_path, stateless_mcp.url)

    result = invoke("McpProbeFunction", sample_event("McpProbeFunction"))
    status, health = call_http("HealthFunction", token=token_for(make_user_id()))
    _, public = call_http("HealthFunction")

    probed = {server["server_name"]: server for server in result["servers"]}
    # Disabled servers and servers that need a key the deployment does not have are not probed.
    assert set(probed) == {"deepwiki", "memory"}
    assert probed["deepwiki"]["status"] == "ok", probed["deepwiki"]
    assert probed["deepwiki"]["tool_count"] >= 60
    assert probed["memory"]["status"] == "error" and probed["memory"]["error_code"] == "mcp_unreachable"
    assert status == 200  # an MCP server being down does not make the service unhealthy
    shown = {server["server_name"]: server["status"] for server in health["details"]["mcp_servers"]}
    assert shown["deepwiki"] == "ok" and shown["memory"] == "error"
    assert "mcp_servers" not in str(public) and public["details"] is None  # upstream health needs a token


def test_the_probe_closes_operations_left_pending(gateway, tmp_path, stateless_mcp, owner_conn, make_user_id):
    configure(gateway, tmp_path, stateless_mcp.url)
    user = make_user_id()
    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (user,))
        owner_conn.execute(
            "INSERT INTO mcp_operation_logs (user_id, server_name, operation, status, created_at)"
            " VALUES (%s, 'deepwiki', 'call_tool', 'pending', now() - interval '1 hour')",
            (user,),
        )

    invoke("McpProbeFunction", sample_event("McpProbeFunction"))

    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (user,))
        row = owner_conn.execute(
            "SELECT status, error_code FROM mcp_operation_logs WHERE user_id = %s", (user,)
        ).fetchone()
    assert (row["status"], row["error_code"]) == ("error", "abandoned")

"""The MCP servers the product knows: the seeded registry merged with `mcp-config.yaml`.

The database holds what a server is (name, kind, description, its known tools); the
configuration holds how this deployment reaches it (endpoint, protocol, auth, limits) and
whether it is enabled. A server is offered only when both say it is enabled.
"""

from __future__ import annotations

from typing import Any

from auralink import config
from auralink.config.models import ServerConfig
from auralink.db import system_transaction
from auralink.errors import ConfigurationError
from auralink.mcp import repository
from auralink.mcp.models import RegistryServer


def _endpoint(name: str, server: ServerConfig, api_base_url: str | None) -> str | None:
    if server.hosted:
        return None if api_base_url is None else api_base_url.rstrip("/") + (server.path or "")
    return None if server.endpoint is None else str(server.endpoint)


def _tools(capabilities: Any) -> list[str]:
    tools = capabilities.get("tools") if isinstance(capabilities, dict) else None
    return [str(tool) for tool in tools] if isinstance(tools, list) else []


def list_servers(*, api_base_url: str | None) -> list[RegistryServer]:
    with system_transaction() as conn:
        rows = repository.registry_rows(conn)
    configured = config.get_mcp_config().servers
    servers = []
    for row in rows:
        server = configured.get(row["name"])
        if server is None:
            # Seeded but not configured here: this deployment does not offer it.
            continue
        servers.append(
            RegistryServer(
                name=row["name"],
                type=row["server_type"],
                display_name=server.display_name or row["display_name"],
                description=row["description"] or server.description,
                endpoint=_endpoint(row["name"], server, api_base_url),
                auth_kind=server.auth.kind,
                enabled=bool(row["enabled"]) and server.enabled,
                protocol=server.protocol,
                capabilities=list(server.capabilities),
                tools=_tools(row["capabilities"]),
            )
        )
    return servers


def server_config(name: str) -> ServerConfig:
    """The configuration of a registry server; an unknown name is a deployment fault here."""
    found = config.get_mcp_config().servers.get(name)
    if found is None:
        raise ConfigurationError(
            f"MCP server {name} is seeded but not configured", code="mcp_server_unconfigured"
        )
    return found

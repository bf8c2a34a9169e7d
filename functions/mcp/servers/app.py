"""GET /api/v1/mcp/servers: the MCP servers this deployment offers."""

from __future__ import annotations

from auralink.http import api_base_url, lambda_handler_for, make_resolver
from auralink.mcp import registry
from auralink.mcp.models import RegistryServerList

app = make_resolver()


@app.get("/api/v1/mcp/servers", summary="The MCP servers of the registry", tags=["mcp"])
def list_servers() -> RegistryServerList:
    return RegistryServerList(servers=registry.list_servers(api_base_url=api_base_url(app)))


lambda_handler = lambda_handler_for(app)

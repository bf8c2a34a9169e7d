"""GET /api/v1/mcp/connections: the caller's connections."""

from __future__ import annotations

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.mcp import connections
from auralink.mcp.models import ConnectionList

app = make_resolver()


@app.get("/api/v1/mcp/connections", summary="The caller's MCP connections", tags=["mcp"])
def list_connections() -> ConnectionList:
    return connections.list_connections(current_identity(app))


lambda_handler = lambda_handler_for(app)

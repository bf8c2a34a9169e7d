"""GET /api/v1/mcp/connections/{connection_id}: one of the caller's connections."""

from __future__ import annotations

from uuid import UUID

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.mcp import connections
from auralink.mcp.models import Connection

app = make_resolver()


@app.get("/api/v1/mcp/connections/<connection_id>", summary="One MCP connection", tags=["mcp"])
def get_connection(connection_id: UUID) -> Connection:
    return connections.get_connection(current_identity(app), connection_id)


lambda_handler = lambda_handler_for(app)

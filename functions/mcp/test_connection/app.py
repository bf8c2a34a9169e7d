"""POST /api/v1/mcp/connections/{connection_id}/test: reach the server now; status and latency."""

from __future__ import annotations

from uuid import UUID

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import connect
from auralink.mcp.models import ConnectionTest

app = make_resolver()


@app.post("/api/v1/mcp/connections/<connection_id>/test", summary="Test an MCP connection", tags=["mcp"])
def test_connection(connection_id: UUID) -> ConnectionTest:
    return connect.test_connection(
        current_identity(app), connection_id, api_base_url=api_base_url(app), remaining_ms=remaining_ms(app)
    )


lambda_handler = lambda_handler_for(app)

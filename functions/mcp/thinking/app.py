"""POST /api/v1/mcp/thinking: one step of the Sequential Thinking server (`sequentialthinking`)."""

from __future__ import annotations

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import tools
from auralink.mcp.models import HostedToolRequest, ToolCallResponse

app = make_resolver()


@app.post("/api/v1/mcp/thinking", summary="Record a thought", tags=["mcp shortcuts"])
def think(request: HostedToolRequest) -> ToolCallResponse:
    return tools.call_server_tool(
        current_identity(app),
        "sequential-thinking",
        request.connection_id,
        "sequentialthinking",
        request.arguments,
        api_base_url=api_base_url(app),
        remaining_ms=remaining_ms(app),
    )


lambda_handler = lambda_handler_for(app)

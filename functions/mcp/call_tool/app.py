"""POST /api/v1/mcp/connections/{connection_id}/tools/{tool}/call: call a tool of a connection."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Path

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import tools
from auralink.mcp.models import ToolCallRequest, ToolCallResponse

app = make_resolver()


@app.post("/api/v1/mcp/connections/<connection_id>/tools/<tool>/call", summary="Call a tool", tags=["mcp"])
def call_tool(
    connection_id: UUID,
    tool: Annotated[str, Path(min_length=1, max_length=128)],
    request: ToolCallRequest,
) -> ToolCallResponse:
    return tools.call_tool(
        current_identity(app),
        connection_id,
        tool,
        request.arguments,
        api_base_url=api_base_url(app),
        remaining_ms=remaining_ms(app),
    )


lambda_handler = lambda_handler_for(app)

"""GET /api/v1/mcp/connections/{connection_id}/tools: the server's tools (cached; ?refresh=true refetches)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import tools
from auralink.mcp.models import ToolList

app = make_resolver()


@app.get("/api/v1/mcp/connections/<connection_id>/tools", summary="The tools of a connection", tags=["mcp"])
def list_tools(connection_id: UUID, refresh: Annotated[bool, Query()] = False) -> ToolList:
    return tools.list_tools(
        current_identity(app),
        connection_id,
        refresh=refresh,
        api_base_url=api_base_url(app),
        remaining_ms=remaining_ms(app),
    )


lambda_handler = lambda_handler_for(app)

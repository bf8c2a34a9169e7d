"""GET /api/v1/mcp/operations: the caller's MCP operations, newest first, paged."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.mcp import usage
from auralink.mcp.models import OperationPage

app = make_resolver()


@app.get("/api/v1/mcp/operations", summary="The MCP operation log", tags=["mcp"])
def operations(
    connection_id: Annotated[UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> OperationPage:
    return usage.operations(current_identity(app), limit=limit, cursor=cursor, connection_id=connection_id)


lambda_handler = lambda_handler_for(app)

"""DELETE /api/v1/mcp/connections/{connection_id}: forget a connection and its credentials."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from aws_lambda_powertools.event_handler import Response

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.mcp import connections

app = make_resolver()


@app.delete(
    "/api/v1/mcp/connections/<connection_id>",
    summary="Delete an MCP connection",
    tags=["mcp"],
    responses={204: {"description": "Deleted"}},
)
def delete_connection(connection_id: UUID) -> Response[None]:
    connections.delete_connection(current_identity(app), connection_id)
    return Response(status_code=HTTPStatus.NO_CONTENT)


lambda_handler = lambda_handler_for(app)

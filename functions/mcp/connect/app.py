"""POST /api/v1/mcp/connect: connect an MCP server (the server is contacted before anything is stored)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import connect
from auralink.mcp.models import Connection, ConnectRequest

app = make_resolver()


@app.post(
    "/api/v1/mcp/connect",
    summary="Connect an MCP server",
    tags=["mcp"],
    responses={201: {"description": "Connected", "content": {"application/json": {"model": Connection}}}},
)
def connect_server(request: ConnectRequest) -> Response[Connection]:
    connection = connect.connect(
        current_identity(app), request, api_base_url=api_base_url(app), remaining_ms=remaining_ms(app)
    )
    return Response(
        status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=connection
    )


lambda_handler = lambda_handler_for(app)

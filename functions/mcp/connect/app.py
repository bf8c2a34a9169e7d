"""POST /api/v1/mcp/connect: connect an MCP server (the server is contacted before anything is stored)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import connect
from auralink.mcp.models import Connection, ConnectionAuthorization, ConnectRequest

app = make_resolver()


@app.post(
    "/api/v1/mcp/connect",
    summary="Connect an MCP server",
    tags=["mcp"],
    description=(
        "201 with the connection once the server answered `tools/list`. A server behind OAuth (its "
        "401 points to OAuth metadata, or mcp-config.yaml declares `auth.kind: oauth`) answers 202: "
        "the user opens `authorization_url`, signs in, and the connection becomes `connected`."
    ),
    responses={
        201: {"description": "Connected", "content": {"application/json": {"model": Connection}}},
        202: {
            "description": "Waiting for the user to sign in to the server",
            "content": {"application/json": {"model": ConnectionAuthorization}},
        },
    },
)
def connect_server(request: ConnectRequest) -> Response[Connection | ConnectionAuthorization]:
    connection = connect.connect(
        current_identity(app), request, api_base_url=api_base_url(app), remaining_ms=remaining_ms(app)
    )
    status = HTTPStatus.ACCEPTED if isinstance(connection, ConnectionAuthorization) else HTTPStatus.CREATED
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=connection)


lambda_handler = lambda_handler_for(app)

"""GET /.well-known/oauth-protected-resource/mcp/{server}: how an MCP client signs in to one of the
API's MCP endpoints (RFC 9728 protected resource metadata). An open route."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path

from auralink.http import ErrorResponse, lambda_handler_for, make_resolver
from auralink.mcp import resource
from auralink.mcp.resource import METADATA_PREFIX, McpEndpoint, ResourceMetadata

app = make_resolver(public=True)

# Clients read it before every sign-in; it changes only with the deployment's settings.
CACHE_CONTROL = "public, max-age=3600"


@app.get(
    METADATA_PREFIX + "/mcp/<server>",
    summary="How MCP clients sign in to an MCP endpoint",
    description=(
        "Open route (RFC 9728): the protected resource metadata of `/mcp/{server}`. `resource` is the "
        "endpoint's absolute URL (the RFC 8707 `resource` a client asks its tokens for), "
        "`authorization_servers` the configured issuer (Cognito's in AWS). The endpoint's 401 points "
        "here in its `WWW-Authenticate` header. 404 `authorization_server_unconfigured` on a stack "
        "without an OIDC issuer."
    ),
    tags=["mcp"],
    responses={
        200: {"description": "The metadata", "content": {"application/json": {"model": ResourceMetadata}}},
        404: {
            "description": "No OIDC issuer is configured (`authorization_server_unconfigured`)",
            "content": {"application/json": {"model": ErrorResponse}},
        },
    },
)
def protected_resource_metadata(
    server: Annotated[McpEndpoint, Path(description="The MCP endpoint: /mcp/{server}")],
) -> Response[ResourceMetadata]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=resource.metadata_for(app.current_event.raw_event, f"/mcp/{server}"),
        headers={"Cache-Control": CACHE_CONTROL},
    )


lambda_handler = lambda_handler_for(app)

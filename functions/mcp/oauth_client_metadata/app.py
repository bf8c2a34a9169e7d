"""GET /api/v1/mcp/oauth/client-metadata.json: the product's OAuth Client ID Metadata Document.

An open route: authorization servers of MCP servers fetch it to learn who the client is, where
its client_id is this document's URL. It reads no secret and no database.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.http import api_base_url, lambda_handler_for, make_resolver
from auralink.mcp.oauth.urls import CLIENT_METADATA_PATH, client_metadata

app = make_resolver(public=True)

# Authorization servers may cache it; it changes only with the deployment's URL.
CACHE_CONTROL = "public, max-age=3600"


@app.get(
    CLIENT_METADATA_PATH,
    summary="The OAuth client metadata of AuraLink's MCP gateway",
    description=(
        "Open route: the Client ID Metadata Document that authorization servers of MCP servers "
        "fetch when AuraLink signs a user in with this URL as its `client_id` (a public client, "
        "PKCE, redirect to `/api/v1/mcp/oauth/callback`)."
    ),
    tags=["mcp"],
)
def oauth_client_metadata() -> Response[dict[str, Any]]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=client_metadata(api_base_url(app)),
        headers={"Cache-Control": CACHE_CONTROL},
    )


lambda_handler = lambda_handler_for(app)

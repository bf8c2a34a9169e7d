"""GET /api/v1/mcp/oauth/callback: where an MCP server's authorization server sends the user back.

An open route: it carries no bearer token, and `state` alone binds it to a user and a connection
(`auralink.mcp.oauth.flow`). The browser gets a page, or a redirect to the client application.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.http import api_base_url, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp.oauth import callback
from auralink.mcp.oauth.flow import Callback
from auralink.mcp.oauth.urls import CALLBACK_PATH

app = make_resolver(public=True)

_Param = Annotated[str | None, Query(max_length=4096)]


@app.get(
    CALLBACK_PATH,
    summary="End a sign-in to an MCP server (the authorization server's redirect)",
    description=(
        "Open route, reached by the user's browser. `state` binds it to one connection: single use, "
        "10 minutes. The code is exchanged for tokens, stored encrypted, and the server's tools are "
        "listed. Answers an HTML page (200 when connected; 400 `mcp_oauth_state_invalid`, "
        "`mcp_oauth_state_used`, `mcp_oauth_state_expired`, `mcp_oauth_denied`, "
        "`mcp_oauth_callback_invalid`; "
        "502/504 when the authorization server fails), or a 303 to `MCP_OAUTH_RETURN_URL` with "
        "`status`, `connection_id` and `error`."
    ),
    tags=["mcp"],
    responses={
        200: {"description": "Connected: a page", "content": {"text/html": {}}},
        303: {"description": "To the client application (MCP_OAUTH_RETURN_URL)"},
    },
)
def oauth_callback(
    code: _Param = None,
    state: _Param = None,
    error: _Param = None,
    iss: _Param = None,
    error_description: _Param = None,
) -> Response[str]:
    outcome = callback.finish(
        Callback(state=state, code=code, error=error, iss=iss),
        api_base_url=api_base_url(app),
        remaining_ms=remaining_ms(app),
    )
    location = callback.return_location(outcome)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    if location is not None:
        return Response(status_code=303, headers={**headers, "Location": location}, body="")
    return Response(
        status_code=outcome.status,
        content_type=content_types.TEXT_HTML,
        headers=headers,
        body=callback.page(outcome),
    )


lambda_handler = lambda_handler_for(app)

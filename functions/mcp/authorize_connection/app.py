"""POST /api/v1/mcp/connections/{connection_id}/authorize: a fresh sign-in address for a
connection to a server behind OAuth."""

from __future__ import annotations

from uuid import UUID

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver
from auralink.mcp.models import ConnectionAuthorization
from auralink.mcp.oauth import connect

app = make_resolver()


@app.post(
    "/api/v1/mcp/connections/<connection_id>/authorize",
    summary="Sign in again to the server of a connection behind OAuth",
    description=(
        "For a connection whose refresh was refused (`authorization_required`), or to sign in as "
        "someone else: open `authorization_url` before `expires_at`. An address handed out before "
        "stops working. 409 `mcp_oauth_not_applicable` for a connection without OAuth."
    ),
    tags=["mcp"],
)
def authorize_connection(connection_id: UUID) -> ConnectionAuthorization:
    return connect.authorize_connection(current_identity(app), connection_id, api_base_url=api_base_url(app))


lambda_handler = lambda_handler_for(app)

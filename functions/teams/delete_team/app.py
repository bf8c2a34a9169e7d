"""DELETE /api/v1/teams/{team_id}: forget a team and its members."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from aws_lambda_powertools.event_handler import Response

from auralink.agents.teams import service
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.delete(
    "/api/v1/teams/<team_id>",
    summary="Delete a team",
    tags=["teams"],
    responses={204: {"description": "Deleted"}},
)
def delete_team(team_id: UUID) -> Response[None]:
    service.delete_team(current_identity(app), team_id)
    return Response(status_code=HTTPStatus.NO_CONTENT)


lambda_handler = lambda_handler_for(app)

"""DELETE /api/v1/teams/{team_id}/members/{name}: remove a member that nothing in the team names."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from auralink.agents.teams import service
from auralink.agents.teams.models import MAX_NAME
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.delete(
    "/api/v1/teams/<team_id>/members/<name>",
    summary="Remove a team member",
    tags=["teams"],
    responses={204: {"description": "Deleted"}},
)
def delete_team_member(
    team_id: UUID, name: Annotated[str, Path(min_length=1, max_length=MAX_NAME)]
) -> Response[None]:
    service.delete_member(current_identity(app), team_id, name)
    return Response(status_code=HTTPStatus.NO_CONTENT)


lambda_handler = lambda_handler_for(app)

"""POST /api/v1/teams: store a team once it is checked (members, mode, tasks, edges, tools, models)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.agents.teams import service
from auralink.agents.teams.models import Team, TeamRequest
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/teams",
    summary="Create a team",
    tags=["teams"],
    responses={201: {"description": "Created", "content": {"application/json": {"model": Team}}}},
)
def create_team(request: TeamRequest) -> Response[Team]:
    team = service.create_team(current_identity(app), request)
    return Response(status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=team)


lambda_handler = lambda_handler_for(app)

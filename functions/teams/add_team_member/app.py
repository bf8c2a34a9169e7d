"""POST /api/v1/teams/{team_id}/members: add a member at the end (checked with the team it joins)."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.agents.teams import service
from auralink.agents.teams.models import Member
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/teams/<team_id>/members",
    summary="Add a member to a team",
    tags=["teams"],
    responses={201: {"description": "Created", "content": {"application/json": {"model": Member}}}},
)
def add_team_member(team_id: UUID, member: Member) -> Response[Member]:
    added = service.add_member(current_identity(app), team_id, member)
    return Response(status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=added)


lambda_handler = lambda_handler_for(app)

"""GET /api/v1/teams/{team_id}/members: a team's members, in their order."""

from __future__ import annotations

from uuid import UUID

from auralink.agents.teams import service
from auralink.agents.teams.models import MemberList
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/teams/<team_id>/members", summary="A team's members", tags=["teams"])
def list_team_members(team_id: UUID) -> MemberList:
    return service.list_members(current_identity(app), team_id)


lambda_handler = lambda_handler_for(app)

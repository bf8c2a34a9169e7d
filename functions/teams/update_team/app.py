"""PUT /api/v1/teams/{team_id}: replace a team (checked like a new one); without members, it keeps its own."""

from __future__ import annotations

from uuid import UUID

from auralink.agents.teams import service
from auralink.agents.teams.models import Team, TeamRequest
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.put("/api/v1/teams/<team_id>", summary="Replace a team", tags=["teams"])
def update_team(team_id: UUID, request: TeamRequest) -> Team:
    return service.update_team(current_identity(app), team_id, request)


lambda_handler = lambda_handler_for(app)

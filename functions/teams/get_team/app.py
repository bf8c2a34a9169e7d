"""GET /api/v1/teams/{team_id}: one of the caller's teams, with its members."""

from __future__ import annotations

from uuid import UUID

from auralink.agents.teams import service
from auralink.agents.teams.models import Team
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/teams/<team_id>", summary="One team", tags=["teams"])
def get_team(team_id: UUID) -> Team:
    return service.get_team(current_identity(app), team_id)


lambda_handler = lambda_handler_for(app)

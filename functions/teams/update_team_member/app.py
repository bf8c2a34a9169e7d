"""PUT /api/v1/teams/{team_id}/members/{name}: replace a member (it may be renamed; its place stays)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Path

from auralink.agents.teams import service
from auralink.agents.teams.models import MAX_NAME, Member
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.put("/api/v1/teams/<team_id>/members/<name>", summary="Replace a team member", tags=["teams"])
def update_team_member(
    team_id: UUID, name: Annotated[str, Path(min_length=1, max_length=MAX_NAME)], member: Member
) -> Member:
    return service.update_member(current_identity(app), team_id, name, member)


lambda_handler = lambda_handler_for(app)

"""GET /api/v1/teams/{team_id}/conversations: the team's runs, newest first, paged."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.agents.teams import executions
from auralink.agents.teams.models import ConversationPage
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/teams/<team_id>/conversations", summary="A team's runs", tags=["teams"])
def list_team_conversations(
    team_id: UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ConversationPage:
    return executions.team_conversations(current_identity(app), team_id, limit=limit, cursor=cursor)


lambda_handler = lambda_handler_for(app)

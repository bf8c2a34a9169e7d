"""GET /api/v1/teams: the caller's teams, newest first, paged (without their members)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.agents.teams import service
from auralink.agents.teams.models import TeamPage
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/teams", summary="The caller's teams", tags=["teams"])
def list_teams(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TeamPage:
    return service.list_teams(current_identity(app), limit=limit, cursor=cursor)


lambda_handler = lambda_handler_for(app)

"""POST /api/v1/teams/{team_id}/execute: start a run of a team on a task (202 with its id)."""

from __future__ import annotations

from uuid import UUID

from aws_lambda_powertools.event_handler import Response

from auralink.agents.runs.api_models import RunAccepted
from auralink.agents.runs.execute_route import ACCEPTED, IdempotencyKey, accepted
from auralink.agents.teams import executions
from auralink.agents.teams.models import ExecuteTeamRequest
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/teams/<team_id>/execute",
    summary="Start a run of a team",
    tags=["teams"],
    responses=ACCEPTED,
)
def execute_team(
    team_id: UUID,
    request: ExecuteTeamRequest,
    idempotency_key: IdempotencyKey = None,
) -> Response[RunAccepted]:
    run, created = executions.start_team_run(current_identity(app), team_id, request, idempotency_key)
    return accepted(run, created=created)


lambda_handler = lambda_handler_for(app)

"""POST /api/v1/workflows/{workflow_id}/execute: start a run of a workflow (202 with its id)."""

from __future__ import annotations

from uuid import UUID

from aws_lambda_powertools.event_handler import Response

from auralink.agents.runs import control
from auralink.agents.runs.api_models import ExecuteRequest, RunAccepted
from auralink.agents.runs.execute_route import ACCEPTED, IdempotencyKey, accepted
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/workflows/<workflow_id>/execute",
    summary="Start a run of a workflow",
    tags=["runs"],
    responses=ACCEPTED,
)
def execute_workflow(
    workflow_id: UUID,
    request: ExecuteRequest,
    idempotency_key: IdempotencyKey = None,
) -> Response[RunAccepted]:
    run, created = control.start_workflow_run(current_identity(app), workflow_id, request, idempotency_key)
    return accepted(run, created=created)


lambda_handler = lambda_handler_for(app)

"""POST /api/v1/pipelines/{pipeline_id}/execute: start a run of a pipeline (202 with its id)."""

from __future__ import annotations

from uuid import UUID

from aws_lambda_powertools.event_handler import Response

from auralink.agents.pipelines import executions
from auralink.agents.pipelines.executions import ExecutePipelineRequest
from auralink.agents.runs.api_models import RunAccepted
from auralink.agents.runs.execute_route import ACCEPTED, IdempotencyKey, accepted
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/pipelines/<pipeline_id>/execute",
    summary="Start a run of a pipeline",
    tags=["pipelines"],
    responses=ACCEPTED,
)
def execute_pipeline(
    pipeline_id: UUID,
    request: ExecutePipelineRequest,
    idempotency_key: IdempotencyKey = None,
) -> Response[RunAccepted]:
    run, created = executions.start_pipeline_run(current_identity(app), pipeline_id, request, idempotency_key)
    return accepted(run, created=created)


lambda_handler = lambda_handler_for(app)

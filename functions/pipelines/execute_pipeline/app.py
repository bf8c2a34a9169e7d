"""POST /api/v1/pipelines/{pipeline_id}/execute: start a run of a pipeline (202 with its id)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header

from auralink.agents.pipelines import executions
from auralink.agents.pipelines.executions import ExecutePipelineRequest
from auralink.agents.runs.api_models import IDEMPOTENCY_KEY, RunAccepted
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/pipelines/<pipeline_id>/execute",
    summary="Start a run of a pipeline",
    tags=["pipelines"],
    responses={202: {"description": "Accepted", "content": {"application/json": {"model": RunAccepted}}}},
)
def execute_pipeline(
    pipeline_id: UUID,
    request: ExecutePipelineRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="idempotency-key",
            min_length=1,
            max_length=255,
            pattern=IDEMPOTENCY_KEY,
            description="Repeat a request with the same key to get the same run, started once",
        ),
    ] = None,
) -> Response[RunAccepted]:
    accepted, created = executions.start_pipeline_run(
        current_identity(app), pipeline_id, request, idempotency_key
    )
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body=accepted,
        headers=None if created else {"Idempotent-Replayed": "true"},
    )


lambda_handler = lambda_handler_for(app)

"""DELETE /api/v1/pipelines/{pipeline_id}: forget a pipeline."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from aws_lambda_powertools.event_handler import Response

from auralink.agents.pipelines import service
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.delete(
    "/api/v1/pipelines/<pipeline_id>",
    summary="Delete a pipeline",
    tags=["pipelines"],
    responses={204: {"description": "Deleted"}},
)
def delete_pipeline(pipeline_id: UUID) -> Response[None]:
    service.delete_pipeline(current_identity(app), pipeline_id)
    return Response(status_code=HTTPStatus.NO_CONTENT)


lambda_handler = lambda_handler_for(app)

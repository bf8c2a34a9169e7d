"""POST /api/v1/pipelines: store a pipeline once it is checked (graph, texts, parameters, references)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.agents.pipelines import service
from auralink.agents.pipelines.models import Pipeline, PipelineRequest
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/pipelines",
    summary="Create a pipeline",
    tags=["pipelines"],
    responses={201: {"description": "Created", "content": {"application/json": {"model": Pipeline}}}},
)
def create_pipeline(request: PipelineRequest) -> Response[Pipeline]:
    pipeline = service.create_pipeline(current_identity(app), request)
    return Response(
        status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=pipeline
    )


lambda_handler = lambda_handler_for(app)

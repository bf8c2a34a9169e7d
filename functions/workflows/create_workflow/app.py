"""POST /api/v1/workflows: store a workflow once its definition is checked (graph, texts, tools, models)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.agents.workflows import service
from auralink.agents.workflows.models import Workflow, WorkflowRequest
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/workflows",
    summary="Create a workflow",
    tags=["workflows"],
    responses={201: {"description": "Created", "content": {"application/json": {"model": Workflow}}}},
)
def create_workflow(request: WorkflowRequest) -> Response[Workflow]:
    workflow = service.create_workflow(current_identity(app), request)
    return Response(
        status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=workflow
    )


lambda_handler = lambda_handler_for(app)

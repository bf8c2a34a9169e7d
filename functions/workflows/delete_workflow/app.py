"""DELETE /api/v1/workflows/{workflow_id}: forget a workflow (its past runs stay, unlinked)."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from aws_lambda_powertools.event_handler import Response

from auralink.agents.workflows import service
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.delete(
    "/api/v1/workflows/<workflow_id>",
    summary="Delete a workflow",
    tags=["workflows"],
    responses={204: {"description": "Deleted"}},
)
def delete_workflow(workflow_id: UUID) -> Response[None]:
    service.delete_workflow(current_identity(app), workflow_id)
    return Response(status_code=HTTPStatus.NO_CONTENT)


lambda_handler = lambda_handler_for(app)

"""POST /api/v1/runs/{run_id}/cancel: cancel a run (at once, or at its next step when running)."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.agents.runs import control
from auralink.agents.runs.api_models import RunView
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/runs/<run_id>/cancel",
    summary="Cancel a run",
    tags=["runs"],
    responses={
        202: {"description": "Cancelled or cancelling", "content": {"application/json": {"model": RunView}}}
    },
)
def cancel_run(run_id: UUID) -> Response[RunView]:
    view = control.cancel_run(current_identity(app), run_id)
    return Response(status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=view)


lambda_handler = lambda_handler_for(app)

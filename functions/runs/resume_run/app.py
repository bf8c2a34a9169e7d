"""POST /api/v1/runs/{run_id}/resume: answer a run that waits for input; it carries on (202)."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.agents.runs import control
from auralink.agents.runs.api_models import ResumeRequest, RunView
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/runs/<run_id>/resume",
    summary="Resume a run that waits for input",
    tags=["runs"],
    responses={202: {"description": "Resumed", "content": {"application/json": {"model": RunView}}}},
)
def resume_run(run_id: UUID, request: ResumeRequest) -> Response[RunView]:
    view = control.resume_run(current_identity(app), run_id, request)
    return Response(status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=view)


lambda_handler = lambda_handler_for(app)

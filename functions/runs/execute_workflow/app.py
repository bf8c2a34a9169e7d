"""POST /api/v1/workflows/{workflow_id}/execute: start a run of a workflow (202 with its id)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header

from auralink.agents.runs import control
from auralink.agents.runs.api_models import IDEMPOTENCY_KEY, ExecuteRequest, RunAccepted
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.post(
    "/api/v1/workflows/<workflow_id>/execute",
    summary="Start a run of a workflow",
    tags=["runs"],
    responses={202: {"description": "Accepted", "content": {"application/json": {"model": RunAccepted}}}},
)
def execute_workflow(
    workflow_id: UUID,
    request: ExecuteRequest,
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
    accepted, created = control.start_workflow_run(
        current_identity(app), workflow_id, request, idempotency_key
    )
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body=accepted,
        headers=None if created else {"Idempotent-Replayed": "true"},
    )


lambda_handler = lambda_handler_for(app)

"""What every execute route (workflows, teams, pipelines) shares: the `Idempotency-Key` header and
the 202 that answers it, marked `Idempotent-Replayed` when the key had started the run already."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from auralink.agents.runs.api_models import IDEMPOTENCY_KEY, RunAccepted

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=255,
        pattern=IDEMPOTENCY_KEY,
        description="Repeat a request with the same key to get the same run, started once",
    ),
]

ACCEPTED: dict[int, OpenAPIResponse] = {
    202: {"description": "Accepted", "content": {"application/json": {"model": RunAccepted}}}
}


def accepted(run: RunAccepted, *, created: bool) -> Response[RunAccepted]:
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body=run,
        headers=None if created else {"Idempotent-Replayed": "true"},
    )

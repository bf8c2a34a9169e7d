"""GET /health: can the service serve? Database, schema version, configuration, version."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.http import lambda_handler_for, make_resolver
from auralink.platform import service
from auralink.platform.models import HealthReport

app = make_resolver(public=True)


@app.get(
    "/health",
    summary="Health of the service",
    tags=["platform"],
    responses={
        200: {"description": "Ready to serve", "content": {"application/json": {"model": HealthReport}}},
        503: {"description": "A check failed", "content": {"application/json": {"model": HealthReport}}},
    },
)
def health() -> Response[HealthReport]:
    report = service.health()
    status = HTTPStatus.OK if report.status == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=report)


lambda_handler = lambda_handler_for(app)

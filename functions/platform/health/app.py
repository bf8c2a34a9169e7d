"""GET /health: can the service serve? Status, version and schema for anyone; with a valid
bearer token, the checks behind them (database, configuration, MCP servers, Prefect)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.http import caller_if_any, lambda_handler_for, make_resolver
from auralink.platform import service
from auralink.platform.models import HealthReport

app = make_resolver(public=True)


@app.get(
    "/health",
    summary="Health of the service",
    description=(
        "Open route: status, version and schema version. With a valid bearer token the answer adds "
        "`details` (database, configuration, MCP servers, the Prefect API of pipelines: `ok`, `starting` "
        "or `unavailable`, which does not change the status); an invalid token is a 401."
    ),
    tags=["platform"],
    responses={
        200: {"description": "Ready to serve", "content": {"application/json": {"model": HealthReport}}},
        503: {"description": "A check failed", "content": {"application/json": {"model": HealthReport}}},
    },
)
def health() -> Response[HealthReport]:
    report = service.health(detailed=caller_if_any(app) is not None)
    status = HTTPStatus.OK if report.status == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=report)


lambda_handler = lambda_handler_for(app)

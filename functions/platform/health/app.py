"""GET /health: can the service serve? Database, schema version, configuration, version."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from auralink.http import make_resolver
from auralink.observability import logger, metrics, tracer
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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""GET /api/v1/me: the caller's identity, as verified from the bearer token."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from auralink.http import current_identity, make_resolver
from auralink.observability import logger, metrics, tracer
from auralink.platform import service
from auralink.platform.models import Me

app = make_resolver()


@app.get("/api/v1/me", summary="The caller's identity", tags=["platform"])
def me() -> Me:
    return service.me(current_identity(app))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

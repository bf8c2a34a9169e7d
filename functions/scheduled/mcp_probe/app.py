"""Scheduled: check every enabled MCP server of the registry and record its health."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from auralink import tracing
from auralink.mcp import probe
from auralink.observability import logger, metrics
from auralink.settings import get_settings

get_settings()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracing.handler("mcp probe")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    results = probe.run(api_base_url=None, remaining_ms=context.get_remaining_time_in_millis())
    return {"servers": [result.model_dump(mode="json") for result in results]}

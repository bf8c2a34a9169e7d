"""Scheduled: refresh the usage and performance summaries (materialized views) concurrently."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from auralink import tracing
from auralink.observability import logger, metrics
from auralink.platform import summaries
from auralink.settings import get_settings

get_settings()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracing.handler("refresh summaries")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return summaries.refresh().model_dump(mode="json")

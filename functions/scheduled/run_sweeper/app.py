"""Scheduled: start the runs left unstarted past their grace period; fail those too old to start."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from auralink import tracing
from auralink.agents.runs import sweeper
from auralink.observability import logger, metrics
from auralink.settings import get_settings

get_settings()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracing.handler("run sweeper")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return sweeper.sweep(remaining_ms=context.get_remaining_time_in_millis()).model_dump(mode="json")

"""Invoked by the deploy: apply pending migrations and the seeds, as the database owner."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from auralink import tracing
from auralink.observability import logger, metrics
from auralink.platform import schema
from auralink.settings import get_settings

get_settings()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracing.handler("migrate")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return schema.migrate().model_dump(mode="json")

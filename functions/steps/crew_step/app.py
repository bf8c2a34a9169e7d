"""Task of the run state machine for CrewAI's runs: advance one run by one bounded step.

The run step's contract, in CrewAI's own environment (the image built from the Dockerfile beside
this file): it imports only the auralink modules that do without the main environment's `mcp` and
pydantic, and CrewAI itself at the first step of a crew's run.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from auralink import tracing
from auralink.agents.runs import service
from auralink.agents.runs.executors import Executor, register_executor_factory
from auralink.agents.runs.models import StepCommand, carried_trace
from auralink.observability import logger, metrics
from auralink.settings import get_settings

get_settings()  # fail the cold start, not the first run, on a bad environment


def _crewai() -> Executor:
    # CrewAI's import takes seconds: the first step pays it within its 15 minutes, not the init
    # phase within its 10 seconds.
    from auralink.agents.crewai.executor import CrewAIExecutor  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    executor: Executor = CrewAIExecutor()
    return executor


register_executor_factory("crewai", _crewai)


@logger.inject_lambda_context(correlation_id_path="run_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracing.handler("crew step", carried=carried_trace)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    command = parse(event=event, model=StepCommand)
    reply = service.advance(command, remaining_ms=context.get_remaining_time_in_millis())
    return reply.model_dump(mode="json")

"""Task of the run state machine: advance one run by one bounded step."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from auralink import tracing
from auralink.agents.langgraph.executor import FRAMEWORK as LANGGRAPH
from auralink.agents.langgraph.executor import LangGraphExecutor
from auralink.agents.runs import service
from auralink.agents.runs.executors import (
    Executor,
    executor_for,
    register_executor,
    register_executor_factory,
)
from auralink.agents.runs.models import StepCommand, carried_trace
from auralink.mcp import session_pool
from auralink.observability import logger, metrics
from auralink.settings import get_settings
from auralink.snapstart import before_snapshot

get_settings()  # fail the cold start, not the first run, on a bad environment


def _autogen() -> Executor:
    from auralink.agents.autogen.executor import AutoGenExecutor  # noqa: PLC0415  # team runs only

    return AutoGenExecutor()


def _prefect() -> Executor:
    from auralink.agents.prefect.executor import PrefectExecutor  # noqa: PLC0415  # pipeline runs only

    return PrefectExecutor()


register_executor(LANGGRAPH, LangGraphExecutor())
register_executor_factory("autogen", _autogen)
# Prefect's import costs 1 to 2.5 s: a container pays it at its first pipeline run only.
register_executor_factory("prefect", _prefect)
# Published with SnapStart, the snapshot holds AutoGen already (~0.3 s no restored container pays);
# without it (locally), a container loads AutoGen at its first team run only.
before_snapshot(lambda: executor_for("autogen"))


@logger.inject_lambda_context(correlation_id_path="run_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracing.handler("run step", carried=carried_trace)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    command = parse(event=event, model=StepCommand)
    # One MCP session per server and connection for the step: an agent node that calls ten
    # tools of a server shakes hands once. Closed when the step ends.
    with session_pool.scope():
        reply = service.advance(command, remaining_ms=context.get_remaining_time_in_millis())
    return reply.model_dump(mode="json")

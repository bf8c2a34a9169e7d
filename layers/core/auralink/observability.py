"""The one Logger and Metrics of the service, and the names of its metrics.

Every module imports these objects from here, so that the service name, the metrics namespace and
the correlation id are configured once (through the POWERTOOLS_* environment variables).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "AuraLink"

logger = Logger(service="auralink")
metrics = Metrics(namespace=NAMESPACE, service="auralink")

# Many invocations add nothing to `metrics`: their metrics are documents of their own
# (`emit_with_dimensions`), or there are none. Powertools would warn of it in each container's log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

__all__ = [
    "NAMESPACE",
    "MetricName",
    "MetricPoint",
    "MetricUnit",
    "emit_with_dimensions",
    "logger",
    "metrics",
]

MetricPoint = tuple[str, MetricUnit, float]


def emit_with_dimensions(points: Iterable[MetricPoint], dimensions: Mapping[str, str]) -> None:
    """Emit metrics under dimensions of their own (per server, model, tool...).

    The points are one EMF document of their own, so that the function's other metrics keep their
    dimensions; one document for all of them, as each is a log line that CloudWatch Logs bills.
    """
    document = EphemeralMetrics(namespace=NAMESPACE, service="auralink")
    for dimension, label in dimensions.items():
        document.add_dimension(name=dimension, value=label)
    for name, unit, value in points:
        document.add_metric(name=name, unit=unit, value=value)
    document.flush_metrics()


class MetricName:
    """CloudWatch metric names (PascalCase, as CloudWatch's own metrics are named)."""

    # The product's metrics, on the stack's dashboard.
    MCP_OPERATIONS = "MCPOperations"
    MCP_OPERATION_DURATION = "MCPOperationDuration"
    MCP_ERRORS = "MCPErrors"
    AGENT_EXECUTIONS = "AgentExecutions"
    # Runs of teams that reached a final status (dimension: framework).
    TEAM_CONVERSATIONS = "TeamConversations"

    # LLM calls (dimensions: provider, model).
    LLM_CALLS = "LLMCalls"
    LLM_ERRORS = "LLMErrors"
    LLM_LATENCY = "LLMLatency"
    LLM_INPUT_TOKENS = "LLMInputTokens"
    LLM_OUTPUT_TOKENS = "LLMOutputTokens"
    LLM_COST = "LLMCostUSD"

    # Agent tool calls (dimension: tool, a built-in name or "mcp" for every MCP tool).
    AGENT_TOOL_CALLS = "AgentToolCalls"
    AGENT_TOOL_ERRORS = "AgentToolErrors"
    AGENT_TOOL_DURATION = "AgentToolDuration"

    # Platform.
    HEALTH_CHECK_FAILURES = "HealthCheckFailures"
    AUTH_FAILURES = "AuthFailures"
    UNHANDLED_ERRORS = "UnhandledErrors"
    # Runs: started by the API; steps as they run; the rest once per run, at its final status.
    RUNS_STARTED = "RunsStarted"
    RUN_STEPS = "RunSteps"
    RUN_STEPS_PER_RUN = "RunStepsPerRun"
    RUN_DURATION = "RunDuration"
    RUN_COST = "RunCostUSD"
    # The sweeper: runs it started after their grace period, and runs it failed as too old to start.
    RUNS_STARTED_LATE = "RunsStartedLate"
    RUNS_NOT_STARTED = "RunsNotStarted"
    SUMMARY_REFRESH_DURATION = "SummaryRefreshDuration"
    # Requests and LLM calls refused by a quota per user (dimension: quota, one of a fixed set).
    QUOTA_REFUSALS = "QuotaRefusals"

"""The agent tools over HTTP: `POST /api/v1/agents/tools/call`.

The same catalog every framework's agents use (built-in tools and the caller's MCP tools, argument
checks, limits, the operation log, a row of `agent_tool_calls`), for a framework that runs outside
the main environment (a CrewAI crew, with its run-scoped token: the call is recorded against its
run) or for any client of the user's own.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ConfigDict, Field

from auralink.agents.tools import catalog
from auralink.agents.tools.base import ToolContext
from auralink.agents.workflows.definition import ToolName
from auralink.auth import Identity
from auralink.model import DeferredModel

# Kept back from the function's remaining time to record the call and answer.
ANSWER_MARGIN_MS = 1_500


class AgentToolCallRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    tool: ToolName = Field(description='A built-in tool ("calculator") or "mcp:<connection>/<tool>"')
    arguments: dict[str, Any] = Field(default_factory=dict)


class AgentToolCallResponse(DeferredModel):
    """The call's outcome: a failure of the tool is an answer (``is_error``), not an HTTP error."""

    tool: str
    text: str
    structured: Any = None
    is_error: bool
    error_code: str | None
    latency_ms: int


def call_tool(
    identity: Identity, request: AgentToolCallRequest, *, api_base_url: str | None, remaining_ms: int
) -> AgentToolCallResponse:
    deadline = time.monotonic() + max(remaining_ms - ANSWER_MARGIN_MS, 0) / 1000
    context = ToolContext(
        identity=identity, run_id=identity.run_id, deadline=deadline, api_base_url=api_base_url
    )
    output = catalog.call(context, request.tool, request.arguments)
    return AgentToolCallResponse(
        tool=request.tool,
        text=output.text,
        structured=output.structured,
        is_error=output.is_error,
        error_code=output.error_code,
        latency_ms=output.latency_ms,
    )

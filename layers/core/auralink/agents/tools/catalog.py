"""The agent tools as a framework sees them: what they are, which names are unknown, and calls.

`call` is the one way to run a tool. It checks the arguments against the tool's input schema,
runs the tool, and never raises for a failure of the tool itself: bad arguments, an unknown tool,
a calculator error or a server that is down all come back as a `ToolOutput` with `is_error` and a
stable `error_code`, which a model can read and act on. Every call, whatever its outcome, is a
row of `agent_tool_calls` and a point of the `AgentToolCalls` metric.
"""

from __future__ import annotations

import json
import time
from typing import Any

from auralink import tracing
from auralink.agents.tools import (
    calculator,
    code_analyzer,
    mcp_backed,
    names,
    repository,
    truncation,
    web_search,
)
from auralink.agents.tools.base import (
    BuiltinTool,
    ToolAnswer,
    ToolCallRecord,
    ToolContext,
    ToolDescription,
    ToolError,
    ToolOutput,
)
from auralink.agents.tools.names import McpToolName
from auralink.auth import Identity
from auralink.db import tenant_transaction
from auralink.errors import DomainError, ValidationFailed
from auralink.mcp import arguments as argument_checks
from auralink.mcp import tools as mcp_tools
from auralink.observability import (
    MetricName,
    MetricPoint,
    MetricUnit,
    emit_with_dimensions,
    logger,
)
from auralink.settings import get_settings

BUILTINS: dict[str, BuiltinTool] = {
    tool.name: tool
    for tool in (
        calculator.TOOL,
        code_analyzer.TOOL,
        web_search.TOOL,
        mcp_backed.MEMORY_SEARCH_TOOL,
        mcp_backed.DEEPWIKI_TOOL,
    )
}
_MAX_RECORDED_NAME = 256
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}

UNKNOWN_TOOL = "unknown_tool"
INVALID_ARGUMENTS = "invalid_tool_arguments"  # the MCP gateway's own code for the same failure
DEADLINE_EXHAUSTED = "deadline_exhausted"
INTERNAL_ERROR = "internal_error"


def _resolve(identity: Identity, tool_names: list[str]) -> dict[str, ToolDescription | None]:
    """Each distinct name's description, or None when the caller has no such tool."""
    connections: dict[str, dict[str, dict[str, Any]] | None] = {}
    resolved: dict[str, ToolDescription | None] = {}
    for name in tool_names:
        if name in resolved:
            continue
        try:
            parsed = names.parse(name)
        except ValueError:
            resolved[name] = None
            continue
        if not isinstance(parsed, McpToolName):
            resolved[name] = BUILTINS[parsed].describe()
            continue
        if parsed.connection not in connections:
            found = mcp_tools.tools_of_named_connection(identity, parsed.connection)
            connections[parsed.connection] = (
                None if found is None else {tool["name"]: tool for tool in found[1]}
            )
        cached = connections[parsed.connection]
        tool = None if cached is None else cached.get(parsed.tool)
        resolved[name] = None if tool is None else _mcp_description(parsed, tool)
    return resolved


def _mcp_description(name: McpToolName, tool: dict[str, Any]) -> ToolDescription:
    text = (
        tool.get("description")
        or tool.get("title")
        or f"The {name.tool} tool of the {name.connection} server"
    )
    return ToolDescription(
        name=str(name), description=str(text), input_schema=tool.get("input_schema") or _EMPTY_SCHEMA
    )


def unknown_tools(identity: Identity, tool_names: list[str]) -> list[str]:
    """The names (in order, once each) that are not a built-in tool or a tool of one of the
    caller's MCP connections (as its cached tool list has it)."""
    return [name for name, description in _resolve(identity, tool_names).items() if description is None]


def describe(identity: Identity, tool_names: list[str]) -> list[ToolDescription]:
    """The tools, in order, once each, as a model is told about them; 422 naming any unknown one."""
    resolved = _resolve(identity, tool_names)
    unknown = [name for name, description in resolved.items() if description is None]
    if unknown:
        raise ValidationFailed(
            f"Unknown tool {unknown[0][:_MAX_RECORDED_NAME]!r}",
            code="unknown_tool",
            details=[
                {
                    "field": name[:_MAX_RECORDED_NAME],
                    "message": "not a built-in tool or a tool of your MCP connections",
                }
                for name in unknown
            ],
        )
    return [description for description in resolved.values() if description is not None]


def call(context: ToolContext, name: str, arguments: dict[str, Any]) -> ToolOutput:
    """Run the tool ``name``; failures of the tool come back as an error output, never raised."""
    attributes = {"agent.tool.name": _metric_dimension(name), "run.id": context.run_id}
    with tracing.span("agent tool", attributes=attributes) as span:
        output = _call(context, name, arguments)
        if output.is_error:
            tracing.fail(span, output.error_code or "tool_error")
        return output


def _call(context: ToolContext, name: str, arguments: dict[str, Any]) -> ToolOutput:
    started = time.monotonic()
    try:
        answer = _run(context, name, arguments)
    except ToolError as exc:
        answer = ToolAnswer(text=exc.message, is_error=True, error_code=exc.code)
    except DomainError as exc:
        # The gateway's refusals and failures: their messages are safe to show by contract.
        answer = ToolAnswer(text=exc.message, structured=_details(exc), is_error=True, error_code=exc.code)
    except Exception:
        # A bug, not a tool failure: recorded like any call, then raised for the run to fail loudly.
        _record(
            context,
            name,
            arguments,
            _elapsed_ms(started),
            ToolAnswer(text="", is_error=True, error_code=INTERNAL_ERROR),
        )
        raise
    output = _output(answer, _elapsed_ms(started))
    _record(context, name, arguments, output.latency_ms, answer)
    return output


def recorded_calls(
    identity: Identity, *, run_id: str | None = None, limit: int = 100
) -> list[ToolCallRecord]:
    """The caller's tool calls, newest first (those of one run when ``run_id`` is given)."""
    with tenant_transaction(identity.sub) as conn:
        rows = repository.recent(conn, run_id=run_id, limit=max(1, min(limit, 1000)))
    return [ToolCallRecord.model_validate(row) for row in rows]


def _run(context: ToolContext, name: str, arguments: dict[str, Any]) -> ToolAnswer:
    if not isinstance(arguments, dict):
        raise ToolError("the arguments must be a JSON object", code=INVALID_ARGUMENTS)
    try:
        parsed = names.parse(name)
    except ValueError as exc:
        raise ToolError(str(exc)[:500], code=UNKNOWN_TOOL) from None
    if context.remaining_ms() <= 0:
        raise ToolError("no time was left for the tool call", code=DEADLINE_EXHAUSTED)
    if isinstance(parsed, McpToolName):
        # The gateway checks the arguments against the server's schema before calling.
        return mcp_backed.call_connection_tool(context, parsed, arguments)
    tool = BUILTINS[parsed]
    argument_checks.check(arguments, tool.input_schema, tool=name)
    return tool.run(context, arguments)


def _details(error: DomainError) -> Any:
    return {"details": error.details} if error.details else None


def _elapsed_ms(started: float) -> int:
    return max(round((time.monotonic() - started) * 1000), 0)


def _output(answer: ToolAnswer, latency_ms: int) -> ToolOutput:
    # What a run keeps of the answer (its log row records the sizes the tool answered).
    cap = get_settings().max_tool_result_bytes
    return ToolOutput(
        text=truncation.cut_text(answer.text, cap),
        structured=truncation.cut_structured(answer.structured, cap),
        is_error=answer.is_error,
        error_code=_error_code(answer),
        latency_ms=latency_ms,
        mcp_operation_id=answer.mcp_operation_id,
    )


def _error_code(answer: ToolAnswer) -> str | None:
    return (answer.error_code or "tool_error")[:64] if answer.is_error else None


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode())


def _record(context: ToolContext, name: str, arguments: Any, latency_ms: int, answer: ToolAnswer) -> None:
    error_code = _error_code(answer)
    row = repository.CallRow(
        user_id=context.identity.sub,
        run_id=context.run_id,
        tool=name[:_MAX_RECORDED_NAME] or "?",
        error_code=error_code,
        latency_ms=latency_ms,
        request_bytes=_size(arguments),
        response_bytes=len(answer.text.encode())
        + (0 if answer.structured is None else _size(answer.structured)),
        mcp_operation_id=answer.mcp_operation_id,
    )
    with tenant_transaction(context.identity.sub) as conn:
        repository.insert(conn, row)
    dimension = _metric_dimension(name)
    logger.info(
        "agent tool call",
        extra={
            "tool": dimension,
            "status": "error" if error_code else "success",
            "error_code": error_code,
            "latency_ms": latency_ms,
            "run_id": context.run_id,
        },
    )
    _emit(dimension, latency_ms, failed=error_code is not None)


def _metric_dimension(name: str) -> str:
    # Bounded cardinality: the built-in names, "mcp" for every MCP tool, "unknown" for the rest.
    if name in BUILTINS:
        return name
    return "mcp" if name.startswith(names.MCP_PREFIX) else "unknown"


def _emit(tool: str, latency_ms: int, *, failed: bool) -> None:
    points: list[MetricPoint] = [
        (MetricName.AGENT_TOOL_CALLS, MetricUnit.Count, 1),
        (MetricName.AGENT_TOOL_DURATION, MetricUnit.Milliseconds, latency_ms),
    ]
    if failed:
        points.append((MetricName.AGENT_TOOL_ERRORS, MetricUnit.Count, 1))
    emit_with_dimensions(points, {"tool": tool})

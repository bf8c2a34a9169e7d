"""What every agent tool is given and hands back, whatever framework drives it.

A tool gets a `ToolContext` (who calls, for which run, by when) and its JSON arguments. It
answers a `ToolAnswer`, or raises `ToolError` for a failure of its own (a bad expression, a search
engine that is down); `auralink.agents.tools.catalog.call` turns either into a `ToolOutput`, times
it and records it. Messages of `ToolError` are shown to the model and the user: never put a
secret or an internal detail into one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict

from auralink.auth import Identity
from auralink.model import DeferredModel


@dataclass(frozen=True)
class ToolContext:
    """The caller, the run the call belongs to (None outside a run), and the `time.monotonic()`
    value by which the call must be over. `api_base_url` is where the hosted MCP servers live when
    the deployment's PUBLIC_API_URL is not set."""

    identity: Identity
    run_id: str | None
    deadline: float
    api_base_url: str | None = None

    def __post_init__(self) -> None:
        if self.run_id is not None:
            UUID(self.run_id)  # a ValueError here is a caller's bug, not a tool failure

    def remaining_s(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def remaining_ms(self) -> int:
        return int(self.remaining_s() * 1000)


class ToolOutput(DeferredModel):
    """One call's outcome: `text` is what a model reads, `structured` the same as data."""

    model_config = ConfigDict(frozen=True)

    text: str
    structured: Any = None
    is_error: bool = False
    error_code: str | None = None
    latency_ms: int
    # Set when the call went through the MCP gateway: the row of `mcp_operation_logs`.
    mcp_operation_id: str | None = None


class ToolDescription(DeferredModel):
    """A tool as a model is told about it."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    input_schema: dict[str, Any]


class ToolCallRecord(DeferredModel):
    """One row of the tool call log, as the caller may read it."""

    call_id: str
    run_id: str | None
    tool: str
    status: Literal["success", "error"]
    error_code: str | None
    latency_ms: int
    request_bytes: int
    response_bytes: int
    mcp_operation_id: str | None
    created_at: datetime


class ToolError(Exception):
    """A tool's own failure, with a stable `code` and a message that is safe to show."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ToolAnswer:
    """What a tool returns before the catalog times and records it."""

    text: str
    structured: Any = None
    is_error: bool = False
    error_code: str | None = None
    mcp_operation_id: str | None = None


@dataclass(frozen=True)
class BuiltinTool:
    """A built-in tool: its name, what a model is told, the schema of its arguments and its code.

    `run` receives arguments that already match `input_schema`.
    """

    name: str
    description: str
    input_schema: dict[str, Any] = field(repr=False)
    run: Callable[[ToolContext, dict[str, Any]], ToolAnswer] = field(repr=False)

    def describe(self) -> ToolDescription:
        return ToolDescription(name=self.name, description=self.description, input_schema=self.input_schema)

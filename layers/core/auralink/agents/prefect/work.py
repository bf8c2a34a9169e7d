"""What a pipeline's step does once its texts are rendered: a tool call through the tool catalog, a
model call through the LLM gateway, a child run through the runs API.

Every call is made for the run's owner with the run's id, so the tool catalog's limits and log
rows and the gateway's metrics, quotas and cost hold as for any other run. A failure raises
`StepFailed` with a stable code: Prefect retries the task as the step says, then the run fails
with that code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from auralink.agents.pipelines.definition import (
    InnerStep,
    LlmInner,
    LlmStep,
    McpToolInner,
    McpToolStep,
    Step,
    TeamInner,
    TeamStep,
    ToolInner,
    ToolStep,
    WorkflowInner,
    WorkflowStep,
)
from auralink.agents.tools import catalog
from auralink.agents.tools.base import ToolContext
from auralink.auth import Identity
from auralink.errors import DomainError
from auralink.llm import gateway
from auralink.llm.chat_types import ChatMessage
from auralink.settings import get_settings

# The gateways' codes for a call stopped by its deadline, or refused for want of time.
OUT_OF_TIME = frozenset({"deadline_exhausted", "mcp_timeout", "llm_timeout"})


class StepFailed(Exception):
    """A step's attempt failed for a reason the user can read (the code is stable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ChildRunning(Exception):
    """A child run the step started is still running: the step is done again in a later step."""


@dataclass(frozen=True)
class RunContext:
    """The run a step works for, and the `time.monotonic()` by which its calls must be over: the
    run step's end, or the end of an attempt's timeout when that comes first (``timeout_ends``;
    the gateways stop a call at its deadline, where Prefect's own timeout, in a worker thread,
    cannot interrupt a call that waits on the network)."""

    user_id: str
    run_id: UUID
    pipeline_id: UUID | None
    deadline: float
    timeout_ends: bool = False

    def remaining_s(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def within(self, timeout_s: int | None) -> RunContext:
        """The context of one attempt of a step with a timeout of ``timeout_s`` seconds."""
        if timeout_s is None or time.monotonic() + timeout_s >= self.deadline:
            return self
        return replace(self, deadline=time.monotonic() + timeout_s, timeout_ends=True)

    def timed_out(self, failure: StepFailed) -> bool:
        """Whether an attempt failed for want of time that its timeout cut."""
        return self.timeout_ends and failure.code in OUT_OF_TIME

    def tool_context(self) -> ToolContext:
        return ToolContext(
            identity=Identity(sub=self.user_id),
            run_id=str(self.run_id),
            deadline=self.deadline,
            api_base_url=get_settings().public_api_url,
        )


def run(step: Step | InnerStep, inputs: dict[str, Any], ctx: RunContext, *, key: str) -> Any:
    """The step's output for its rendered ``inputs``; ``key`` names this task run among the run's
    (a child run's idempotency key derives from it)."""
    match step:
        case McpToolStep() | McpToolInner():
            return _tool(f"mcp:{step.connection}/{step.tool}", inputs["arguments"], ctx)
        case ToolStep() | ToolInner():
            return _tool(step.tool, inputs["arguments"], ctx)
        case LlmStep() | LlmInner():
            return _llm(step, inputs["prompt"], ctx)
        case WorkflowStep() | WorkflowInner() | TeamStep() | TeamInner():
            from auralink.agents.prefect import children  # noqa: PLC0415  # only pipelines with children

            return children.child_output(step, inputs, ctx, key=key)
    raise TypeError(f"no work for a step of kind {step.kind!r}")


def _tool(name: str, arguments: dict[str, Any], ctx: RunContext) -> Any:
    output = catalog.call(ctx.tool_context(), name, arguments)
    if output.is_error:
        raise StepFailed(output.error_code or "tool_error", f"tool {name} failed: {output.text}")
    return output.structured if output.structured is not None else output.text


def _llm(step: LlmStep | LlmInner, prompt: str, ctx: RunContext) -> str:
    try:
        model = gateway.model_for(ctx.user_id, step.model)
        completion = gateway.complete(
            ctx.user_id,
            model,
            [ChatMessage(role="user", content=prompt)],
            temperature=step.temperature,
            max_tokens=step.max_tokens,
            deadline_s=ctx.remaining_s(),
            run_id=ctx.run_id,
        )
    except DomainError as exc:
        # The gateway's errors say what failed without a key or a prompt in them.
        raise StepFailed(exc.code, exc.message) from None
    return completion.reply.content or ""

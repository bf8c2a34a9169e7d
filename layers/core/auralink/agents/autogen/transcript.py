"""AutoGen's messages and events as the messages of a run (`GET /api/v1/runs/{id}/messages`).

`text`, `handoff`: what a member (or the person) says; these are the messages that count against
the team's `max_messages`, except the task and the person's answers. `tool_call`, `tool_result`:
a member's tool calls and their results. `stop`: why the run ended (written by the executor).
Events that are AutoGen's bookkeeping (speaker selection, AutoGen's own stop of a turn) are not
messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    HandoffMessage,
    TextMessage,
    ThoughtEvent,
    ToolCallExecutionEvent,
    ToolCallRequestEvent,
    ToolCallSummaryMessage,
)

from auralink.agents.teams.models import USER


@dataclass(frozen=True)
class Entry:
    source: str
    kind: str
    content: Any
    usage: dict[str, int] | None
    # Counted against max_messages: a member's text or handoff.
    counted: bool


def entry(message: BaseAgentEvent | BaseChatMessage, tool_names: dict[str, str]) -> Entry | None:
    """The run's message for an AutoGen message, or None for bookkeeping; ``tool_names`` maps
    the names models see back to the catalog's names."""
    usage = _usage(message)
    by_member = message.source != USER
    if isinstance(message, TextMessage | ToolCallSummaryMessage):
        return Entry(message.source, "text", message.content, usage, counted=by_member)
    if isinstance(message, ThoughtEvent):
        # Text a model wrote beside its tool calls: part of what it said, not a turn of its own.
        return Entry(message.source, "text", message.content, usage, counted=False)
    if isinstance(message, HandoffMessage):
        content = {"target": message.target, "message": message.content}
        return Entry(message.source, "handoff", content, usage, counted=by_member)
    if isinstance(message, ToolCallRequestEvent):
        calls = [
            {
                "id": call.id,
                "tool": tool_names.get(call.name, call.name),
                "arguments": _arguments(call.arguments),
            }
            for call in message.content
        ]
        return Entry(message.source, "tool_call", calls, usage, counted=False)
    if isinstance(message, ToolCallExecutionEvent):
        results = [
            {
                "call_id": result.call_id,
                "tool": tool_names.get(result.name, result.name),
                "content": result.content,
                "is_error": bool(result.is_error),
            }
            for result in message.content
        ]
        return Entry(message.source, "tool_result", results, None, counted=False)
    return None


def _usage(message: BaseAgentEvent | BaseChatMessage) -> dict[str, int] | None:
    usage = message.models_usage
    if usage is None or (usage.prompt_tokens == 0 and usage.completion_tokens == 0):
        return None
    return {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw or "{}")
    except json.JSONDecodeError:
        return raw

"""What the adapters share: reading answers into models, tool-call arguments, finish reasons,
and the checks on a conversation that every provider needs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from auralink.errors import BadRequest
from auralink.llm.chat_types import ChatMessage
from auralink.llm.errors import PROTOCOL_ERROR, LlmUpstreamError

# Finish reasons in OpenAI's words, whatever the provider: the gateway and the agents read one set.
STOP = "stop"
LENGTH = "length"
TOOL_CALLS = "tool_calls"
CONTENT_FILTER = "content_filter"


def unreadable(provider: str, what: str) -> LlmUpstreamError:
    return LlmUpstreamError(f"{provider}'s answer cannot be read: {what}", code=PROTOCOL_ERROR)


def read_answer[M: BaseModel](model: type[M], answer: Mapping[str, Any], provider: str) -> M:
    """The answer as ``model``; `llm_protocol_error` naming the first field that does not fit."""
    try:
        return model.model_validate(answer)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise unreadable(provider, f"{where}: {first['msg']}") from None


def arguments_from_json(text: str, *, provider: str, tool: str) -> dict[str, Any]:
    """Tool-call arguments sent as a JSON string (an empty string means none)."""
    if not text.strip():
        return {}
    try:
        arguments = json.loads(text)
    except ValueError:
        raise unreadable(provider, f"the arguments of the call to {tool} are not JSON") from None
    if not isinstance(arguments, dict):
        raise unreadable(provider, f"the arguments of the call to {tool} are not a JSON object")
    return arguments


def finish_reason(value: str | None, known: Mapping[str, str]) -> str | None:
    """The provider's stop reason in OpenAI's words; an unknown one as the provider said it."""
    if value is None:
        return None
    return known.get(value, value.lower())


def system_text(messages: Iterable[ChatMessage]) -> str | None:
    """All system messages as one instruction (the providers that take it apart from the turns)."""
    parts = [message.content for message in messages if message.role == "system" and message.content]
    return "\n\n".join(parts) if parts else None


def tool_call_id(message: ChatMessage) -> str:
    if not message.tool_call_id:
        raise BadRequest("A tool message needs the tool_call_id of the call it answers")
    return message.tool_call_id


def merge_turns(turns: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """``(role, block)`` pairs as messages of content blocks, consecutive blocks of one role in one
    message: Anthropic and Bedrock want user and assistant turns to alternate, and the results of
    parallel tool calls in a single user turn."""
    messages: list[dict[str, Any]] = []
    for role, block in turns:
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].append(block)
        else:
            messages.append({"role": role, "content": [block]})
    if not messages:
        raise BadRequest("The conversation has no user or assistant message")
    return messages

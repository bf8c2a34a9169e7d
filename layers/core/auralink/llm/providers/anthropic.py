"""Anthropic Messages: `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`.

The system prompt is the top-level ``system``; tool calls and their results are content blocks
(``tool_use`` in an assistant turn, ``tool_result`` in the user turn that follows); ``max_tokens``
is required by the API, so a request without one gets `DEFAULT_MAX_TOKENS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ConfigDict, Field

from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.llm.chat_types import ChatMessage, ProviderReply, ProviderRequest, ToolCall, Usage
from auralink.llm.errors import AUTH_FAILED, LlmUpstreamError
from auralink.llm.providers.base import ProviderAccess
from auralink.llm.providers.common import (
    CONTENT_FILTER,
    LENGTH,
    STOP,
    TOOL_CALLS,
    finish_reason,
    merge_turns,
    read_answer,
    system_text,
    tool_call_id,
    unreadable,
)
from auralink.llm.providers.http import JsonPost, base_url_to_call, loopback_allowed, post_json
from auralink.model import DeferredModel

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
_FINISH_REASONS = {
    "end_turn": STOP,
    "stop_sequence": STOP,
    "pause_turn": STOP,
    "max_tokens": LENGTH,
    "model_context_window_exceeded": LENGTH,
    "tool_use": TOOL_CALLS,
    "refusal": CONTENT_FILTER,
}


class AnthropicProvider:
    """Anthropic Messages. ``allow_loopback`` defaults to ALLOW_LOOPBACK_ENDPOINTS (settings)."""

    name = "Anthropic"

    def __init__(self, *, allow_loopback: bool | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self._allow_loopback = allow_loopback
        self._clock = clock

    def chat(self, request: ProviderRequest, *, access: ProviderAccess, deadline_s: float) -> ProviderReply:
        if access.api_key is None:
            raise LlmUpstreamError("No API key for Anthropic", code=AUTH_FAILED)
        allow_loopback = loopback_allowed(self._allow_loopback)
        base = base_url_to_call(access.base_url, DEFAULT_BASE_URL, allow_loopback=allow_loopback)
        key = access.api_key.get_secret_value()
        post = JsonPost(
            provider=self.name,
            url=f"{base}/v1/messages",
            body=request_body(request),
            headers={"x-api-key": key, "anthropic-version": API_VERSION},
            secret=key,
        )
        answer = post_json(post, deadline_s=deadline_s, allow_loopback=allow_loopback, clock=self._clock)
        return parse_reply(answer)


def request_body(request: ProviderRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": merge_turns(_blocks(request.messages)),
    }
    system = system_text(request.messages)
    if system:
        body["system"] = system
    if request.tools:
        body["tools"] = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
            if tool.description
            else {"name": tool.name, "input_schema": tool.parameters}
            for tool in request.tools
        ]
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stop:
        body["stop_sequences"] = request.stop
    return body


def _blocks(messages: list[ChatMessage]) -> Iterator[tuple[str, dict[str, Any]]]:
    # Empty text blocks are refused by the API, so a turn's text is sent only when it has some.
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            yield (
                "user",
                {
                    "type": "tool_result",
                    "tool_use_id": tool_call_id(message),
                    "content": message.content or "",
                },
            )
            continue
        if message.content:
            yield message.role, {"type": "text", "text": message.content}
        if message.role == "assistant":
            for call in message.tool_calls:
                yield (
                    "assistant",
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments},
                )


class _Lenient(DeferredModel):
    model_config = ConfigDict(extra="ignore")


class _Block(_Lenient):
    type: str
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: dict[str, Any] | None = None


class _Usage(_Lenient):
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


class _Message(_Lenient):
    model: str | None = None
    content: list[_Block]
    stop_reason: str | None = None
    usage: _Usage


def parse_reply(answer: dict[str, Any]) -> ProviderReply:
    message = read_answer(_Message, answer, AnthropicProvider.name)
    texts = [block.text for block in message.content if block.type == "text" and block.text is not None]
    calls = [
        ToolCall(id=block.id or "", name=block.name or "", arguments=block.input or {})
        for block in message.content
        if block.type == "tool_use"
    ]
    if any(not call.id or not call.name for call in calls):
        raise unreadable(AnthropicProvider.name, "a tool_use block lacks its id or name")
    return ProviderReply(
        content="".join(texts) if texts else None,
        tool_calls=calls,
        usage=Usage(input_tokens=message.usage.input_tokens, output_tokens=message.usage.output_tokens),
        finish_reason=finish_reason(message.stop_reason, _FINISH_REASONS),
        model=message.model,
    )

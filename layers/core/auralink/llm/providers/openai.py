"""OpenAI Chat Completions, at api.openai.com or at any compatible base URL (Ollama, vLLM...).

`POST {base}/chat/completions` with the key as a bearer token (a compatible server may need none).
Tool calls come back with their arguments as a JSON string, which is parsed here.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field

from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.llm.chat_types import ChatMessage, ProviderReply, ProviderRequest, ToolCall, ToolSpec, Usage
from auralink.llm.providers.base import ProviderAccess
from auralink.llm.providers.common import (
    CONTENT_FILTER,
    LENGTH,
    STOP,
    TOOL_CALLS,
    arguments_from_json,
    finish_reason,
    read_answer,
    tool_call_id,
    unreadable,
)
from auralink.llm.providers.http import JsonPost, base_url_to_call, loopback_allowed, post_json
from auralink.model import DeferredModel

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_OPENAI_HOST = "api.openai.com"
_FINISH_REASONS = {"stop": STOP, "length": LENGTH, "tool_calls": TOOL_CALLS, "content_filter": CONTENT_FILTER}


class OpenAIProvider:
    """Chat Completions. ``allow_loopback`` defaults to ALLOW_LOOPBACK_ENDPOINTS (settings)."""

    def __init__(
        self, *, name: str = "OpenAI", allow_loopback: bool | None = None, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.name = name
        self._allow_loopback = allow_loopback
        self._clock = clock

    def chat(self, request: ProviderRequest, *, access: ProviderAccess, deadline_s: float) -> ProviderReply:
        allow_loopback = loopback_allowed(self._allow_loopback)
        base = base_url_to_call(access.base_url, DEFAULT_BASE_URL, allow_loopback=allow_loopback)
        key = access.api_key.get_secret_value() if access.api_key is not None else None
        post = JsonPost(
            provider=self.name,
            url=f"{base}/chat/completions",
            body=request_body(request, official=urlsplit(base).hostname == _OPENAI_HOST),
            headers={"Authorization": f"Bearer {key}"} if key else {},
            secret=key,
        )
        answer = post_json(post, deadline_s=deadline_s, allow_loopback=allow_loopback, clock=self._clock)
        return parse_reply(answer, provider=self.name)


def request_body(request: ProviderRequest, *, official: bool) -> dict[str, Any]:
    """The Chat Completions request. OpenAI's own API takes ``max_completion_tokens`` (its
    reasoning models refuse ``max_tokens``); compatible servers know ``max_tokens``."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_message(message) for message in request.messages],
        "stream": False,
    }
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_completion_tokens" if official else "max_tokens"] = request.max_tokens
    if request.stop:
        body["stop"] = request.stop
    return body


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": tool_call_id(message), "content": message.content or ""}
    # Only an assistant turn that calls tools may go without content.
    content = message.content if message.role == "assistant" else message.content or ""
    wire: dict[str, Any] = {"role": message.role, "content": content}
    if message.name:
        wire["name"] = message.name
    if message.role == "assistant" and message.tool_calls:
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    return wire


def _tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    if tool.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


class _Lenient(DeferredModel):
    model_config = ConfigDict(extra="ignore")


class _Function(_Lenient):
    name: str
    arguments: str


class _ToolCall(_Lenient):
    id: str
    type: str = "function"
    function: _Function


class _Message(_Lenient):
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(_Lenient):
    message: _Message
    finish_reason: str | None = None


class _Usage(_Lenient):
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


class _Completion(_Lenient):
    model: str | None = None
    choices: list[_Choice]
    # Required: without it the call's cost cannot be known.
    usage: _Usage


def parse_reply(answer: dict[str, Any], *, provider: str = "OpenAI") -> ProviderReply:
    completion = read_answer(_Completion, answer, provider)
    if not completion.choices:
        raise unreadable(provider, "choices is empty")
    choice = completion.choices[0]
    calls = [
        ToolCall(
            id=call.id,
            name=call.function.name,
            arguments=arguments_from_json(
                call.function.arguments, provider=provider, tool=call.function.name
            ),
        )
        for call in choice.message.tool_calls or []
        if call.type == "function"
    ]
    return ProviderReply(
        content=choice.message.content,
        tool_calls=calls,
        usage=Usage(
            input_tokens=completion.usage.prompt_tokens, output_tokens=completion.usage.completion_tokens
        ),
        finish_reason=finish_reason(choice.finish_reason, _FINISH_REASONS),
        model=completion.model,
    )

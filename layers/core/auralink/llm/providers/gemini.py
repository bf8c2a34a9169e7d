"""Google Gemini: `POST {base}/v1beta/models/{model}:generateContent`.

The key travels in the `x-goog-api-key` header, never in the URL (URLs end up in logs). Turns are
``contents`` of ``parts``; the system prompt is ``systemInstruction``; tools are
``functionDeclarations`` with their JSON schema as ``parametersJsonSchema`` (the ``parameters``
field takes only an OpenAPI subset). Gemini names a function's result by the function's name, so
a tool message is matched to the call it answers through its ``tool_call_id``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.errors import BadRequest
from auralink.llm.chat_types import ChatMessage, ProviderReply, ProviderRequest, ToolCall, Usage
from auralink.llm.errors import AUTH_FAILED, LlmUpstreamError
from auralink.llm.providers.base import ProviderAccess
from auralink.llm.providers.common import (
    CONTENT_FILTER,
    LENGTH,
    STOP,
    TOOL_CALLS,
    finish_reason,
    read_answer,
    system_text,
    tool_call_id,
    unreadable,
)
from auralink.llm.providers.http import JsonPost, base_url_to_call, loopback_allowed, post_json
from auralink.model import DeferredModel

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
_FILTERED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY")
_FINISH_REASONS = {"STOP": STOP, "MAX_TOKENS": LENGTH} | {reason: CONTENT_FILTER for reason in _FILTERED}


class GeminiProvider:
    """Gemini generateContent. ``allow_loopback`` defaults to ALLOW_LOOPBACK_ENDPOINTS (settings)."""

    name = "Google Gemini"

    def __init__(self, *, allow_loopback: bool | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self._allow_loopback = allow_loopback
        self._clock = clock

    def chat(self, request: ProviderRequest, *, access: ProviderAccess, deadline_s: float) -> ProviderReply:
        if access.api_key is None:
            raise LlmUpstreamError("No API key for Google Gemini", code=AUTH_FAILED)
        allow_loopback = loopback_allowed(self._allow_loopback)
        base = base_url_to_call(access.base_url, DEFAULT_BASE_URL, allow_loopback=allow_loopback)
        key = access.api_key.get_secret_value()
        post = JsonPost(
            provider=self.name,
            url=f"{base}/v1beta/models/{quote(request.model, safe='')}:generateContent",
            body=request_body(request),
            headers={"x-goog-api-key": key},
            secret=key,
        )
        answer = post_json(post, deadline_s=deadline_s, allow_loopback=allow_loopback, clock=self._clock)
        return parse_reply(answer)


def request_body(request: ProviderRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": _contents(request.messages)}
    system = system_text(request.messages)
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        declarations = []
        for tool in request.tools:
            declaration: dict[str, Any] = {"name": tool.name, "parametersJsonSchema": tool.parameters}
            if tool.description:
                declaration["description"] = tool.description
            declarations.append(declaration)
        body["tools"] = [{"functionDeclarations": declarations}]
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.stop:
        config["stopSequences"] = request.stop
    if config:
        body["generationConfig"] = config
    return body


def _contents(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    for role, part in _parts(messages):
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].append(part)
        else:
            contents.append({"role": role, "parts": [part]})
    if not contents:
        raise BadRequest("The conversation has no user or assistant message")
    return contents


def _parts(messages: list[ChatMessage]) -> Iterator[tuple[str, dict[str, Any]]]:
    called: dict[str, str] = {}  # tool call id -> function name
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            yield (
                "user",
                {"functionResponse": {"name": _answered(message, called), "response": _result(message)}},
            )
            continue
        role = "model" if message.role == "assistant" else "user"
        if message.content:
            yield role, {"text": message.content}
        for call in message.tool_calls if message.role == "assistant" else []:
            called[call.id] = call.name
            yield role, {"functionCall": {"name": call.name, "args": call.arguments}}


def _answered(message: ChatMessage, called: dict[str, str]) -> str:
    name = called.get(tool_call_id(message)) or message.name
    if not name:
        raise BadRequest("A tool message answers no earlier tool call (unknown tool_call_id)")
    return name


def _result(message: ChatMessage) -> dict[str, Any]:
    """The tool's output as the JSON object Gemini wants: itself when it is one, else wrapped."""
    text = message.content or ""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"result": text}


class _Lenient(DeferredModel):
    # Fields in snake_case here, camelCase on the wire.
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, validate_by_name=True)


class _FunctionCall(_Lenient):
    id: str | None = None
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class _Part(_Lenient):
    text: str | None = None
    thought: bool = False
    function_call: _FunctionCall | None = None


class _Content(_Lenient):
    parts: list[_Part] = Field(default_factory=list)


class _Candidate(_Lenient):
    content: _Content | None = None
    finish_reason: str | None = None


class _UsageMetadata(_Lenient):
    prompt_token_count: int = Field(default=0, ge=0)
    candidates_token_count: int = Field(default=0, ge=0)
    # Thinking is billed as output.
    thoughts_token_count: int = Field(default=0, ge=0)


class _PromptFeedback(_Lenient):
    block_reason: str | None = None


class _Response(_Lenient):
    candidates: list[_Candidate] = Field(default_factory=list)
    usage_metadata: _UsageMetadata
    prompt_feedback: _PromptFeedback | None = None
    model_version: str | None = None


def parse_reply(answer: dict[str, Any]) -> ProviderReply:
    response = read_answer(_Response, answer, GeminiProvider.name)
    usage = Usage(
        input_tokens=response.usage_metadata.prompt_token_count,
        output_tokens=response.usage_metadata.candidates_token_count
        + response.usage_metadata.thoughts_token_count,
    )
    if not response.candidates:
        if response.prompt_feedback is None or response.prompt_feedback.block_reason is None:
            raise unreadable(GeminiProvider.name, "candidates is empty")
        # The prompt itself was blocked: an answer without content, not a failure of the call.
        return ProviderReply(
            content=None,
            tool_calls=[],
            usage=usage,
            finish_reason=CONTENT_FILTER,
            model=response.model_version,
        )
    candidate = response.candidates[0]
    parts = candidate.content.parts if candidate.content is not None else []
    texts = [part.text for part in parts if part.text is not None and not part.thought]
    calls = [
        # Gemini ids its calls only sometimes; ours must be unique within the conversation.
        ToolCall(
            id=part.function_call.id or f"call_{uuid.uuid4().hex}",
            name=part.function_call.name,
            arguments=part.function_call.args,
        )
        for part in parts
        if part.function_call is not None
    ]
    reason = finish_reason(candidate.finish_reason, _FINISH_REASONS)
    return ProviderReply(
        content="".join(texts) if texts else None,
        tool_calls=calls,
        usage=usage,
        # Gemini says STOP after a function call as well.
        finish_reason=TOOL_CALLS if calls and reason == STOP else reason,
        model=response.model_version,
    )

"""Amazon Bedrock Converse (Meta Llama and any other Converse model), one signed POST per call.

Bedrock signs with the function's AWS credentials (its IAM role), not with a user's key. The
region comes from `ProviderAccess.region`, else from the environment (``AWS_DEFAULT_REGION``,
which Lambda sets).

The call goes through `auralink.aws_json`, not boto3, whose import and client took 150-400 ms of
a container's first Bedrock call. It is made once, bounded by the call's deadline: the gateway
retries, within its deadline, the failures this module marks retryable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from auralink import aws_json
from auralink.errors import ConfigurationError
from auralink.llm.chat_types import ChatMessage, ProviderReply, ProviderRequest, ToolCall, Usage
from auralink.llm.errors import (
    AUTH_FAILED,
    BAD_REQUEST,
    RATE_LIMITED,
    SERVER_ERROR,
    UNREACHABLE,
    LlmTimeout,
    LlmUpstreamError,
)
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
from auralink.llm.providers.http import MAX_PROVIDER_MESSAGE
from auralink.model import DeferredModel

NAME = "Amazon Bedrock"
# With less time than this left, the call is not made.
MIN_CALL_S = 0.5
_FINISH_REASONS = {
    "end_turn": STOP,
    "stop_sequence": STOP,
    "max_tokens": LENGTH,
    "model_context_window_exceeded": LENGTH,
    "tool_use": TOOL_CALLS,
    "guardrail_intervened": CONTENT_FILTER,
    "content_filtered": CONTENT_FILTER,
}
# Error codes of the Converse API, by what the caller can do about them.
_RETRYABLE = {
    "ThrottlingException": RATE_LIMITED,
    "ServiceUnavailableException": SERVER_ERROR,
    "InternalServerException": SERVER_ERROR,
    "ModelNotReadyException": SERVER_ERROR,
}
_FINAL = {
    "AccessDeniedException": AUTH_FAILED,
    "UnrecognizedClientException": AUTH_FAILED,
    "ExpiredTokenException": AUTH_FAILED,
    "ValidationException": BAD_REQUEST,
    "ResourceNotFoundException": BAD_REQUEST,
    "ModelErrorException": SERVER_ERROR,
}


class BedrockProvider:
    name = NAME

    def chat(self, request: ProviderRequest, *, access: ProviderAccess, deadline_s: float) -> ProviderReply:
        if deadline_s < MIN_CALL_S:
            raise LlmTimeout(f"Too little time was left to call {NAME}")
        path = f"/model/{quote(request.model, safe='')}/converse"
        try:
            answer = aws_json.post(
                aws_json.BEDROCK_RUNTIME,
                path,
                request_params(request),
                region=access.region,
                timeout_s=deadline_s,
            )
        except aws_json.AwsError as exc:
            raise failure_for(exc, deadline_s) from None
        return parse_reply(answer, model=request.model)


def request_params(request: ProviderRequest) -> dict[str, Any]:
    """The Converse request's body (the model is named by the path)."""
    params: dict[str, Any] = {"messages": merge_turns(_blocks(request.messages))}
    system = system_text(request.messages)
    if system:
        params["system"] = [{"text": system}]
    inference: dict[str, Any] = {}
    if request.max_tokens is not None:
        inference["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if request.stop:
        inference["stopSequences"] = request.stop
    if inference:
        params["inferenceConfig"] = inference
    if request.tools:
        specs = []
        for tool in request.tools:
            spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
            if tool.description:
                spec["description"] = tool.description
            specs.append({"toolSpec": spec})
        params["toolConfig"] = {"tools": specs}
    return params


def _blocks(messages: list[ChatMessage]) -> Iterator[tuple[str, dict[str, Any]]]:
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            result = {"toolUseId": tool_call_id(message), "content": [{"text": message.content or ""}]}
            yield "user", {"toolResult": result}
            continue
        if message.content:
            yield message.role, {"text": message.content}
        if message.role == "assistant":
            for call in message.tool_calls:
                yield (
                    "assistant",
                    {"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}},
                )


def failure_for(exc: aws_json.AwsError, deadline_s: float) -> Exception:
    """What a failed call means to the gateway: our error code, and whether a retry may succeed."""
    if exc.status is None:
        return _transport_failure(exc, deadline_s)
    code = exc.code
    said = " ".join((exc.message or "").split())[:MAX_PROVIDER_MESSAGE]
    details = {"aws_error": code, "provider_message": said} if said else {"aws_error": code}
    if code == "ModelTimeoutException":
        return LlmTimeout(f"{NAME}'s model took too long to answer", retryable=True)
    if code in _RETRYABLE or exc.status >= 500:
        return LlmUpstreamError(
            f"{NAME} cannot serve the call now ({code})",
            code=_RETRYABLE.get(code, SERVER_ERROR),
            retryable=True,
            details=details,
        )
    if _FINAL.get(code) == AUTH_FAILED:
        # The message names the role and the resource: kept in details only.
        return LlmUpstreamError(f"{NAME} refused the call ({code})", code=AUTH_FAILED, details=details)
    our_code = _FINAL.get(code, SERVER_ERROR)
    suffix = f": {said}" if said else ""
    return LlmUpstreamError(f"{NAME} rejected the call ({code}){suffix}", code=our_code, details=details)


def _transport_failure(exc: aws_json.AwsError, deadline_s: float) -> Exception:
    if exc.code == "ReadTimeout":
        return LlmTimeout(f"{NAME} did not answer within {deadline_s:.3g} s")
    if exc.code == "NoRegion":
        return ConfigurationError(f"No AWS region for {NAME}: set AWS_DEFAULT_REGION")
    if not exc.retryable:
        # The client's own verdict: no credentials, or a credentials source or an endpoint that
        # is not usable as configured.
        return ConfigurationError(f"No usable AWS credentials or endpoint to call {NAME} ({exc.code})")
    # Not reached (refused, unresolvable, timed out connecting; the credentials endpoint too).
    return LlmUpstreamError(f"{NAME} cannot be reached ({exc.code})", code=UNREACHABLE, retryable=True)


class _Lenient(DeferredModel):
    # Fields in snake_case here, camelCase in Bedrock's answer.
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, validate_by_name=True)


class _ToolUse(_Lenient):
    tool_use_id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class _Block(_Lenient):
    text: str | None = None
    tool_use: _ToolUse | None = None


class _Message(_Lenient):
    content: list[_Block]


class _Output(_Lenient):
    message: _Message


class _Usage(_Lenient):
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


class _Answer(_Lenient):
    output: _Output
    stop_reason: str | None = None
    usage: _Usage


def parse_reply(answer: dict[str, Any], *, model: str | None = None) -> ProviderReply:
    parsed = read_answer(_Answer, answer, NAME)
    blocks = parsed.output.message.content
    texts = [block.text for block in blocks if block.text is not None]
    calls = [
        ToolCall(id=block.tool_use.tool_use_id, name=block.tool_use.name, arguments=block.tool_use.input)
        for block in blocks
        if block.tool_use is not None
    ]
    if not texts and not calls and parsed.stop_reason is None:
        raise unreadable(NAME, "the message has neither text nor tool use")
    return ProviderReply(
        content="".join(texts) if texts else None,
        tool_calls=calls,
        usage=Usage(input_tokens=parsed.usage.input_tokens, output_tokens=parsed.usage.output_tokens),
        finish_reason=finish_reason(parsed.stop_reason, _FINISH_REASONS),
        model=model,
    )

"""Amazon Bedrock Converse (Meta Llama and any other Converse model), through boto3.

Bedrock signs with the function's AWS credentials (its IAM role), not with a user's key. The
region comes from `ProviderAccess.region`, else from the environment (``AWS_DEFAULT_REGION``,
which Lambda sets).

boto3 clients cost tens of milliseconds to build, so they are cached per container, per region
and per read timeout. The read timeout must not outlast the call's deadline, and botocore sets it
per client, so the deadline is rounded down to one of a few `TIMEOUT_STEPS_S` (a handful of
clients per region at most). botocore's own retries are off: the gateway retries, within its
deadline, the failures this module marks retryable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

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

NAME = "Amazon Bedrock"
CONNECT_TIMEOUT_S = 5.0
TIMEOUT_STEPS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
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


class ConverseClient(Protocol):
    """The part of boto3's ``bedrock-runtime`` client that this adapter uses."""

    def converse(self, **kwargs: Any) -> dict[str, Any]: ...


ClientFactory = Callable[[str | None, float], ConverseClient]


def timeout_step(deadline_s: float) -> float:
    """The longest step of `TIMEOUT_STEPS_S` that fits in the deadline (calls with less time left
    than the shortest step are not made)."""
    fitting = [step for step in TIMEOUT_STEPS_S if step <= deadline_s]
    return fitting[-1] if fitting else TIMEOUT_STEPS_S[0]


@functools.lru_cache(maxsize=32)
def _cached_client(region: str | None, read_timeout_s: float) -> ConverseClient:
    config = Config(
        connect_timeout=min(CONNECT_TIMEOUT_S, read_timeout_s),
        read_timeout=read_timeout_s,
        retries={"total_max_attempts": 1},
    )
    try:
        client = boto3.client("bedrock-runtime", region_name=region, config=config)
    except NoRegionError:
        raise ConfigurationError("No AWS region for Amazon Bedrock: set AWS_DEFAULT_REGION") from None
    return cast("ConverseClient", client)


def runtime_client(region: str | None, deadline_s: float) -> ConverseClient:
    """The container's ``bedrock-runtime`` client for the region, its read timeout within the deadline."""
    return _cached_client(region, timeout_step(deadline_s))


def reset_clients() -> None:
    """Forget the cached clients (tests change the environment)."""
    _cached_client.cache_clear()


class BedrockProvider:
    name = NAME

    def __init__(self, *, clients: ClientFactory = runtime_client) -> None:
        self._clients = clients

    def chat(self, request: ProviderRequest, *, access: ProviderAccess, deadline_s: float) -> ProviderReply:
        if deadline_s < TIMEOUT_STEPS_S[0]:
            raise LlmTimeout(f"Too little time was left to call {NAME}")
        client = self._clients(access.region, deadline_s)
        try:
            answer = client.converse(**request_params(request))
        except ClientError as exc:
            raise failure_for_client_error(exc) from None
        except BotoCoreError as exc:
            raise _transport_failure(exc, deadline_s) from None
        return parse_reply(answer, model=request.model)


def request_params(request: ProviderRequest) -> dict[str, Any]:
    params: dict[str, Any] = {"modelId": request.model, "messages": merge_turns(_blocks(request.messages))}
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


def failure_for_client_error(exc: ClientError) -> LlmUpstreamError | LlmTimeout:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    said = " ".join(str(error.get("Message", "")).split())[:MAX_PROVIDER_MESSAGE]
    details = {"aws_error": code, "provider_message": said} if said else {"aws_error": code}
    if code == "ModelTimeoutException":
        return LlmTimeout(f"{NAME}'s model took too long to answer", retryable=True)
    if code in _RETRYABLE:
        return LlmUpstreamError(
            f"{NAME} cannot serve the call now ({code})",
            code=_RETRYABLE[code],
            retryable=True,
            details=details,
        )
    if _FINAL.get(code) == AUTH_FAILED:
        # The message names the role and the resource: kept in details only.
        return LlmUpstreamError(f"{NAME} refused the call ({code})", code=AUTH_FAILED, details=details)
    our_code = _FINAL.get(code, SERVER_ERROR)
    suffix = f": {said}" if said else ""
    return LlmUpstreamError(f"{NAME} rejected the call ({code}){suffix}", code=our_code, details=details)


def _transport_failure(exc: BotoCoreError, deadline_s: float) -> Exception:
    if isinstance(exc, ReadTimeoutError):
        return LlmTimeout(f"{NAME} did not answer within {timeout_step(deadline_s):.3g} s")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return LlmUpstreamError(f"{NAME} cannot be reached", code=UNREACHABLE, retryable=True)
    if isinstance(exc, NoCredentialsError):
        return ConfigurationError(f"No AWS credentials to call {NAME}")
    return LlmUpstreamError(f"The call to {NAME} failed ({type(exc).__name__})", code=UNREACHABLE)


class _Lenient(BaseModel):
    # Fields in snake_case here, camelCase in boto3's answer.
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

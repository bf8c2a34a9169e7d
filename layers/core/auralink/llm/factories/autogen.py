"""An AutoGen model client that calls the registry's models through the gateway.

The gateway answers whole replies, so `create_stream` yields the final result only; token counts
for `count_tokens` are an estimate (about four characters a token), good enough for AutoGen's
context trimming, while usage comes from the provider's own figures.

What the gateway cannot honour is refused with `model_option_unsupported`, never ignored: a
`tool_choice` other than "auto" or "none", `json_output`, and `extra_create_args` other than
``temperature`` and ``max_tokens``. A cancelled token abandons the call: AutoGen sees it
cancelled at once; the provider's answer, already asked for, is still priced and recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal

from autogen_core import CancellationToken, FunctionCall, Image
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    FinishReasons,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelCapabilities,
    ModelFamily,
    ModelInfo,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from auralink.errors import ValidationFailed
from auralink.llm import chat_types, gateway, registry
from auralink.llm.factories import seconds_left

_CHARS_PER_TOKEN = 4
_CREATE_ARGS = frozenset({"temperature", "max_tokens"})
UNSUPPORTED = "model_option_unsupported"
_FINISH_REASONS: dict[str, FinishReasons] = {
    "stop": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "function_calls",
    "tool_use": "function_calls",
    "content_filter": "content_filter",
}


class AuraLinkModelClient(ChatCompletionClient):
    """Calls one registry model for one user; each call is priced and recorded (with ``run_id``)."""

    def __init__(
        self,
        user_id: str,
        model: registry.ModelEntry,
        *,
        run_id: str | None = None,
        deadline: float | None = None,
    ) -> None:
        self._user_id = user_id
        self._model = model
        self._run_id = run_id
        self._deadline = deadline
        self._last = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._total = RequestUsage(prompt_tokens=0, completion_tokens=0)

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        _refuse_unsupported(tool_choice, json_output, extra_create_args)
        specs = [] if tool_choice == "none" else [_tool_spec(tool) for tool in tools]
        chat_messages = [message for item in messages for message in _to_chat_messages(item)]
        call = asyncio.ensure_future(
            asyncio.to_thread(
                gateway.complete,
                self._user_id,
                self._model,
                chat_messages,
                tools=specs,
                temperature=extra_create_args.get("temperature"),
                max_tokens=extra_create_args.get("max_tokens"),
                deadline_s=seconds_left(self._deadline),
                run_id=self._run_id,
            )
        )
        if cancellation_token is not None:
            cancellation_token.link_future(call)
        completion = await call
        reply = completion.reply
        usage = RequestUsage(
            prompt_tokens=reply.usage.input_tokens, completion_tokens=reply.usage.output_tokens
        )
        self._last = usage
        self._total = RequestUsage(
            prompt_tokens=self._total.prompt_tokens + usage.prompt_tokens,
            completion_tokens=self._total.completion_tokens + usage.completion_tokens,
        )
        content: str | list[FunctionCall]
        if reply.tool_calls:
            content = [
                FunctionCall(id=call.id, name=call.name, arguments=json.dumps(call.arguments))
                for call in reply.tool_calls
            ]
            finish_reason: FinishReasons = "function_calls"
            # Text beside tool calls (a question for the person, the model's reasoning) is kept.
            thought = reply.content or None
        else:
            content = reply.content or ""
            finish_reason = _FINISH_REASONS.get(reply.finish_reason or "stop", "unknown")
            thought = None
        return CreateResult(
            finish_reason=finish_reason, content=content, usage=usage, cached=False, thought=thought
        )

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        yield await self.create(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )

    async def close(self) -> None:
        """Nothing to release: every call opens and closes its own HTTP connection."""

    def actual_usage(self) -> RequestUsage:
        return self._last

    def total_usage(self) -> RequestUsage:
        return self._total

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        text = json.dumps([message.model_dump(mode="json") for message in messages])
        text += json.dumps([_tool_spec(tool).model_dump() for tool in tools])
        return len(text) // _CHARS_PER_TOKEN + 1

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return self._model.context_window - self.count_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelCapabilities:
        return ModelCapabilities(
            vision=self.model_info["vision"],
            function_calling=self.model_info["function_calling"],
            json_output=self.model_info["json_output"],
        )

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision="vision" in self._model.capabilities,
            function_calling=self._model.supports_tools,
            json_output="json" in self._model.capabilities,
            family=ModelFamily.UNKNOWN,
            structured_output=False,
            multiple_system_messages=True,
        )


def model_client(
    user_id: str, model_id: str | None = None, *, run_id: str | None = None, deadline: float | None = None
) -> AuraLinkModelClient:
    """A model client on ``model_id`` or the user's default; a clear error now if neither exists."""
    model = gateway.model_for(user_id, model_id)
    return AuraLinkModelClient(user_id, model, run_id=run_id, deadline=deadline)


def _refuse_unsupported(
    tool_choice: Tool | Literal["auto", "required", "none"],
    json_output: bool | type[BaseModel] | None,
    extra_create_args: Mapping[str, Any],
) -> None:
    problems = []
    if tool_choice not in ("auto", "none"):
        chosen = tool_choice if isinstance(tool_choice, str) else f"the tool {tool_choice.name!r}"
        problems.append(f"tool_choice {chosen} (only auto and none)")
    if json_output not in (None, False):
        problems.append("json_output")
    if unknown := sorted(set(extra_create_args) - _CREATE_ARGS):
        problems.append("extra_create_args " + ", ".join(unknown) + " (only temperature and max_tokens)")
    if problems:
        raise ValidationFailed("The model client cannot honour " + "; ".join(problems), code=UNSUPPORTED)


def _tool_spec(tool: Tool | ToolSchema) -> chat_types.ToolSpec:
    schema: Mapping[str, Any] = tool.schema if isinstance(tool, Tool) else tool
    return chat_types.ToolSpec(
        name=schema["name"],
        description=schema.get("description", ""),
        parameters=dict(schema.get("parameters") or {"type": "object", "properties": {}}),
    )


def _to_chat_messages(message: LLMMessage) -> list[chat_types.ChatMessage]:
    if isinstance(message, SystemMessage):
        return [chat_types.ChatMessage(role="system", content=message.content)]
    if isinstance(message, UserMessage):
        return [chat_types.ChatMessage(role="user", content=_user_text(message.content), name=None)]
    if isinstance(message, AssistantMessage):
        if isinstance(message.content, str):
            return [chat_types.ChatMessage(role="assistant", content=message.content)]
        calls = [
            chat_types.ToolCall(id=call.id, name=call.name, arguments=_arguments(call.arguments))
            for call in message.content
        ]
        return [chat_types.ChatMessage(role="assistant", content=message.thought, tool_calls=calls)]
    if isinstance(message, FunctionExecutionResultMessage):
        return [
            chat_types.ChatMessage(role="tool", content=result.content, tool_call_id=result.call_id)
            for result in message.content
        ]
    raise ValueError(f"unsupported message type {type(message).__name__}")


def _user_text(content: str | list[str | Image]) -> str:
    if isinstance(content, str):
        return content
    if any(isinstance(part, Image) for part in content):
        raise ValueError("image input is not supported by the gateway")
    return "\n".join(part for part in content if isinstance(part, str))


def _arguments(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError("a function call's arguments are not JSON") from exc
    if not isinstance(value, dict):
        raise ValueError("a function call's arguments must be a JSON object")
    return value

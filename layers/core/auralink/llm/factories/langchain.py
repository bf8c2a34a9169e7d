"""A LangChain chat model (for LangGraph) that calls the registry's models through the gateway."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from auralink.llm import chat_types, gateway, registry
from auralink.llm.factories import seconds_left

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant", "system": "system"}


class AuraLinkChatModel(BaseChatModel):
    """Calls one registry model for one user; each call is priced and recorded (with ``run_id``)."""

    user_id: str
    # Resolved once, when the model is made: calls do not look it up again.
    model: registry.ModelEntry
    run_id: str | None = None
    # A time.monotonic() value no call may outlive (a run step's budget); None: one call's timeout.
    deadline: float | None = None
    temperature: float | None = None
    max_tokens: int | None = None

    @property
    def _llm_type(self) -> str:
        return "auralink"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_id": self.model.id}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # The gateway's providers always let the model choose; forcing a tool is not offered.
        specs = [_tool_spec(convert_to_openai_tool(tool)) for tool in tools]
        return self.bind(tools=specs, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        completion = gateway.complete(
            self.user_id,
            self.model,
            [_to_chat_message(message) for message in messages],
            tools=kwargs.get("tools") or (),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stop=stop or (),
            deadline_s=seconds_left(self.deadline),
            run_id=self.run_id,
        )
        reply = completion.reply
        usage = UsageMetadata(
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
            total_tokens=reply.usage.input_tokens + reply.usage.output_tokens,
        )
        message = AIMessage(
            content=reply.content or "",
            tool_calls=[
                {"name": call.name, "args": call.arguments, "id": call.id, "type": "tool_call"}
                for call in reply.tool_calls
            ],
            usage_metadata=usage,
            response_metadata={
                "model_name": completion.model.id,
                "finish_reason": reply.finish_reason,
                "cost_usd": float(completion.cost_usd),
                "latency_ms": completion.latency_ms,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def chat_model(
    user_id: str,
    model_id: str | None = None,
    *,
    run_id: str | None = None,
    deadline: float | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> AuraLinkChatModel:
    """A chat model on ``model_id`` or the user's default; a clear error now if neither exists."""
    model = gateway.model_for(user_id, model_id)
    return AuraLinkChatModel(
        user_id=user_id,
        model=model,
        run_id=run_id,
        deadline=deadline,
        temperature=temperature,
        max_tokens=max_tokens,
    )


def _tool_spec(tool: dict[str, Any]) -> chat_types.ToolSpec:
    function = tool["function"]
    return chat_types.ToolSpec(
        name=function["name"],
        description=function.get("description") or "",
        parameters=function.get("parameters") or {"type": "object", "properties": {}},
    )


def _to_chat_message(message: BaseMessage) -> chat_types.ChatMessage:
    if isinstance(message, SystemMessage):
        return chat_types.ChatMessage(role="system", content=_text(message.content))
    if isinstance(message, HumanMessage):
        return chat_types.ChatMessage(role="user", content=_text(message.content))
    if isinstance(message, AIMessage):
        return chat_types.ChatMessage(
            role="assistant",
            content=_text(message.content) or None,
            tool_calls=[
                chat_types.ToolCall(id=call["id"] or call["name"], name=call["name"], arguments=call["args"])
                for call in message.tool_calls
            ],
        )
    if isinstance(message, ToolMessage):
        return chat_types.ChatMessage(
            role="tool", content=_text(message.content), tool_call_id=message.tool_call_id
        )
    if isinstance(message, ChatMessage) and message.role in _ROLES:
        role = _ROLES[message.role]
        return chat_types.ChatMessage(role=role, content=_text(message.content))
    raise ValueError(f"unsupported message type {message.type!r}")


def _text(content: str | list[str | dict[str, Any]]) -> str:
    """Text of a message: strings as is, content blocks' text joined, other blocks as JSON."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:
            parts.append(json.dumps(block))
    return "\n".join(parts)

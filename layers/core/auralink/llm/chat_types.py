"""The provider-neutral shape of a chat: what goes to a provider and what comes back."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from auralink.model import DeferredModel

# As many stop sequences as OpenAI takes, the strictest of the providers but Gemini (5).
MAX_STOP_SEQUENCES = 4
StopSequence = Annotated[str, Field(min_length=1, max_length=1000)]


class ToolCall(DeferredModel):
    id: str
    name: str
    arguments: dict[str, Any]


class ChatMessage(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = Field(default=None, max_length=1_000_000)
    # An assistant turn that asked for tools; a tool turn answers one of them by id.
    tool_calls: list[ToolCall] = Field(default_factory=list, max_length=128)
    tool_call_id: str | None = Field(default=None, max_length=256)
    name: str | None = Field(default=None, max_length=128)


class ToolSpec(DeferredModel):
    """A function the model may call: its JSON-schema parameters."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = Field(default="", max_length=4096)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    # OpenAI's strict schema adherence: OpenAI-protocol providers are asked for it; the others do
    # not offer it, and a tool that runs in AuraLink checks its arguments against the schema.
    strict: bool = False


class Usage(DeferredModel):
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


class ProviderRequest(DeferredModel):
    """One chat call to one provider's model (its own model name, not our `<provider>/<model>` id)."""

    model: str
    messages: list[ChatMessage]
    tools: list[ToolSpec] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    # Text that ends the answer where the model writes it (left out of the answer).
    stop: list[StopSequence] = Field(default_factory=list, max_length=MAX_STOP_SEQUENCES)


class ProviderReply(DeferredModel):
    content: str | None
    tool_calls: list[ToolCall]
    usage: Usage
    finish_reason: str | None = None
    # What the provider says it answered with (it may differ from the model asked for).
    model: str | None = None

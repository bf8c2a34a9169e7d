"""OpenAI's Chat Completions and Models wire format, as the OpenAI-compatible endpoint takes it.

Every request field OpenAI documents is named here, so that none is dropped unseen:

- what the gateway honours is typed and checked (model, messages, tools, tool_choice,
  temperature, max_tokens / max_completion_tokens, stop, stream, stream_options);
- hints that cannot change the answer are taken and ignored (user, metadata, safety_identifier,
  prompt_cache_key, stream_options.include_obfuscation);
- options the gateway cannot honour are taken only at the value that changes nothing
  (`translate.NEUTRAL`: n=1, top_p=1, logprobs=false...) and refused at any other.

A field OpenAI does not document is refused (422 naming it). The classes carry an ``OpenAI``
prefix because the OpenAPI document names schemas after them, beside the product's own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from auralink.llm.api_models import MODEL_ID
from auralink.llm.chat_types import MAX_STOP_SEQUENCES, StopSequence
from auralink.model import DeferredModel

PATH_PREFIX = "/api/v1/llm/openai/v1"

_MAX_TEXT = 1_000_000


class _Wire(DeferredModel):
    # Strict: JSON's types as OpenAI takes them (`"n": true` is not 1, `"stream": "yes"` not true).
    model_config = ConfigDict(extra="forbid", strict=True)


class OpenAIContentPart(_Wire):
    """A part of a message's content. Text is taken; a part of another type (an image, audio, a
    file) is refused by name, as the gateway carries text only."""

    type: str = Field(min_length=1, max_length=64)
    text: str | None = Field(default=None, max_length=_MAX_TEXT)
    image_url: dict[str, Any] | None = None
    input_audio: dict[str, Any] | None = None
    file: dict[str, Any] | None = None
    refusal: str | None = Field(default=None, max_length=_MAX_TEXT)


class OpenAIFunctionCall(_Wire):
    name: str = Field(min_length=1, max_length=128)
    arguments: str = Field(max_length=_MAX_TEXT, description="The arguments: a JSON object, as a string")


class OpenAIToolCall(_Wire):
    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: OpenAIFunctionCall


def _text_as_part(value: Any) -> Any:
    return [{"type": "text", "text": value}] if isinstance(value, str) else value


# A string or a list of parts, taken as parts (so that an error names `content`, not a branch of
# a union); documented as OpenAI documents it.
Content = Annotated[
    list[OpenAIContentPart],
    Field(max_length=100),
    BeforeValidator(_text_as_part),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": _MAX_TEXT},
                {
                    "type": "array",
                    "items": OpenAIContentPart.model_json_schema(),
                    "maxItems": 100,
                },
            ]
        }
    ),
]


class OpenAIMessage(_Wire):
    """A turn of the conversation. ``developer`` is taken as ``system``."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Content | None = None
    name: str | None = Field(default=None, max_length=128)
    tool_calls: list[OpenAIToolCall] | None = Field(default=None, max_length=128)
    tool_call_id: str | None = Field(default=None, max_length=256)
    # What an earlier answer carried; an assistant turn sent back as it came has them as null.
    refusal: str | None = Field(default=None, max_length=_MAX_TEXT)
    function_call: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None


class OpenAIFunction(_Wire):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = Field(default=None, max_length=4096)
    parameters: dict[str, Any] | None = Field(default=None, description="A JSON Schema of the arguments")
    strict: bool | None = None


class OpenAITool(_Wire):
    type: Literal["function"]
    function: OpenAIFunction


class OpenAIStreamOptions(_Wire):
    include_usage: bool | None = None
    # Random padding against side channels: a stream answered in one piece has none to add.
    include_obfuscation: bool | None = None


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# One sequence or a list of them, taken as a list (so that an error names `stop`, not a branch
# of a union); documented as OpenAI documents it.
StopSequences = Annotated[
    list[StopSequence],
    Field(max_length=MAX_STOP_SEQUENCES),
    BeforeValidator(_as_list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": 1000},
                {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1, "maxLength": 1000},
                    "maxItems": MAX_STOP_SEQUENCES,
                },
            ]
        }
    ),
]


class OpenAIChatCompletionRequest(_Wire):
    model: str = Field(
        pattern=MODEL_ID, max_length=300, description="<provider>/<model>, as GET .../models lists them"
    )
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=500)
    tools: list[OpenAITool] | None = Field(default=None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = Field(
        default=None, description="auto or none; a forced tool call (required, a named tool) is refused"
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: StopSequences | None = None
    n: int | None = Field(default=None, ge=1, description="1 only")
    stream: bool | None = Field(
        default=None, description="true: the whole answer as one text/event-stream body of chunks"
    )
    stream_options: OpenAIStreamOptions | None = None

    # Hints that cannot change the answer: taken and ignored.
    user: str | None = Field(default=None, max_length=256)
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    safety_identifier: str | None = Field(default=None, max_length=256)
    prompt_cache_key: str | None = Field(default=None, max_length=1024)

    # Options the gateway cannot honour: taken only at their neutral value (`translate.NEUTRAL`).
    top_p: float | None = Field(default=None, ge=0, le=1)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    logit_bias: dict[str, int] | None = None
    seed: int | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    store: bool | None = None
    service_tier: str | None = Field(default=None, max_length=32)
    reasoning_effort: str | None = Field(default=None, max_length=32)
    verbosity: str | None = Field(default=None, max_length=32)
    modalities: list[str] | None = Field(default=None, max_length=4)
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_output_bound(self) -> OpenAIChatCompletionRequest:
        both = self.max_tokens is not None and self.max_completion_tokens is not None
        if both and self.max_tokens != self.max_completion_tokens:
            raise ValueError("max_tokens and max_completion_tokens differ: send one of them")
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed when stream is true")
        return self

    @property
    def output_bound(self) -> tuple[str, int | None]:
        """The field that bounds the answer's tokens, and its value."""
        if self.max_completion_tokens is not None:
            return "max_completion_tokens", self.max_completion_tokens
        return "max_tokens", self.max_tokens

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class OpenAIAnswerFunction(DeferredModel):
    name: str
    arguments: str = Field(description="The arguments: a JSON object, as a string")


class OpenAIAnswerToolCall(DeferredModel):
    id: str
    type: Literal["function"] = "function"
    function: OpenAIAnswerFunction


class OpenAIAnswerMessage(DeferredModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: None = None
    tool_calls: list[OpenAIAnswerToolCall] | None = Field(
        default=None, description="Left null when the model called no tool"
    )


FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


class OpenAIChoice(DeferredModel):
    index: int = 0
    message: OpenAIAnswerMessage
    logprobs: None = None
    finish_reason: FinishReason


class OpenAIUsage(DeferredModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class OpenAIChatCompletion(DeferredModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(description="Unix time in seconds")
    model: str = Field(description="<provider>/<model>")
    choices: list[OpenAIChoice]
    usage: OpenAIUsage


class OpenAIModel(DeferredModel):
    id: str = Field(description="<provider>/<model>: what chat/completions takes as `model`")
    object: Literal["model"] = "model"
    created: int = Field(description="Unix time in seconds; 0: the registry does not know it")
    owned_by: str = Field(description="The provider")


class OpenAIModelList(DeferredModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class OpenAIError(DeferredModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, rate_limit_error...")
    param: str | None = Field(description="The request field at fault, if one is")
    code: str = Field(description="The product's error code (docs/api.md)")
    request_id: str | None = None


class OpenAIErrorResponse(DeferredModel):
    """The body of every error answer of the OpenAI-compatible routes."""

    error: OpenAIError

"""The Chat Completions wire format to the gateway's types, and the gateway's completion back.

What the gateway cannot honour is refused with ``model_option_unsupported`` naming the field,
never ignored. A conversation's rules that OpenAI enforces (a tool turn answers a call by id,
tool calls only on assistant turns) are checked here, so that they fail as a 422 naming the
message rather than as whatever the provider says.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from auralink.errors import ValidationFailed
from auralink.llm import gateway
from auralink.llm.chat_types import ChatMessage, ToolCall, ToolSpec
from auralink.llm.openai_compatible import wire

UNSUPPORTED = "model_option_unsupported"

# The options that the gateway cannot honour, each with the values that change nothing (OpenAI's
# defaults): any other value is refused. An empty tuple: every value is refused.
NEUTRAL: dict[str, tuple[object, ...]] = {
    "n": (1,),
    "top_p": (1,),
    "frequency_penalty": (0,),
    "presence_penalty": (0,),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "logit_bias": ({},),
    "parallel_tool_calls": (True,),
    "response_format": ({"type": "text"},),
    "store": (False,),
    "service_tier": ("auto", "default"),
    "modalities": (["text"],),
    "seed": (),
    "reasoning_effort": (),
    "verbosity": (),
    "audio": (),
    "prediction": (),
    "web_search_options": (),
    "functions": (),
    "function_call": (),
}
_HONOURED_TOOL_CHOICES = ("auto", "none")
_FINISH_REASONS: dict[str, wire.FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}


def max_tokens(request: wire.OpenAIChatCompletionRequest) -> int | None:
    """The answer's bound in tokens; a 422 naming the field that asks for more than the cap."""
    field, value = request.output_bound
    gateway.check_max_tokens(value, field=f"body.{field}")
    return value


def tools(request: wire.OpenAIChatCompletionRequest) -> list[ToolSpec]:
    """The tools the model may call: none when ``tool_choice`` is none (the model then cannot call
    one, which is what none asks); a forced call cannot be honoured and is refused."""
    choice = request.tool_choice
    if choice is not None and choice not in _HONOURED_TOOL_CHOICES:
        chosen = choice if isinstance(choice, str) else "a named tool"
        raise _unsupported("tool_choice", f"only auto and none are honoured, not {chosen}")
    if choice == "none":
        return []
    specs = []
    for tool in request.tools or []:
        specs.append(
            ToolSpec(
                name=tool.function.name,
                description=tool.function.description or "",
                parameters=tool.function.parameters or {"type": "object", "properties": {}},
                strict=bool(tool.function.strict),
            )
        )
    return specs


def refuse_what_cannot_be_honoured(request: wire.OpenAIChatCompletionRequest) -> None:
    """`ValidationFailed` (model_option_unsupported) naming each option set to a value that would
    change the answer, which the gateway cannot do."""
    problems = []
    for name, neutral in NEUTRAL.items():
        value = getattr(request, name)
        if value is not None and value not in neutral:
            allowed = " or ".join(json.dumps(item) for item in neutral)
            problems.append(
                {"field": f"body.{name}", "message": f"only {allowed}" if neutral else "not supported"}
            )
    if problems:
        names = ", ".join(problem["field"].removeprefix("body.") for problem in problems)
        raise ValidationFailed(f"The gateway cannot honour {names}", code=UNSUPPORTED, details=problems)


def messages(request: wire.OpenAIChatCompletionRequest) -> list[ChatMessage]:
    return [_message(index, message) for index, message in enumerate(request.messages)]


def completion(done: gateway.Completion, *, completion_id: str, created: int) -> wire.OpenAIChatCompletion:
    reply = done.reply
    calls = [
        wire.OpenAIAnswerToolCall(
            id=call.id,
            function=wire.OpenAIAnswerFunction(
                name=call.name, arguments=json.dumps(call.arguments, ensure_ascii=False)
            ),
        )
        for call in reply.tool_calls
    ]
    return wire.OpenAIChatCompletion(
        id=completion_id,
        created=created,
        model=done.model.id,
        choices=[
            wire.OpenAIChoice(
                message=wire.OpenAIAnswerMessage(content=reply.content, tool_calls=calls or None),
                finish_reason=_finish_reason(reply.finish_reason, called=bool(calls)),
            )
        ],
        usage=wire.OpenAIUsage(
            prompt_tokens=reply.usage.input_tokens,
            completion_tokens=reply.usage.output_tokens,
            total_tokens=reply.usage.input_tokens + reply.usage.output_tokens,
        ),
    )


def _finish_reason(reason: str | None, *, called: bool) -> wire.FinishReason:
    # Some providers say "stop" beside their tool calls (Gemini), or a word of their own: OpenAI's
    # clients read "tool_calls" as the sign that tools were called, and know only OpenAI's words.
    if called and reason in (None, "stop"):
        return "tool_calls"
    known = _FINISH_REASONS.get(reason or "")
    if known is not None:
        return known
    return "tool_calls" if called else "stop"


def _message(index: int, message: wire.OpenAIMessage) -> ChatMessage:
    where = f"messages.{index}"
    for name in ("function_call", "audio"):
        if getattr(message, name) is not None:
            raise _unsupported(f"{where}.{name}", "not supported")
    if message.refusal is not None:
        raise _unsupported(f"{where}.refusal", "an earlier refusal cannot be sent back")
    if message.tool_calls and message.role != "assistant":
        raise _invalid(f"{where}.tool_calls", "only an assistant message calls tools")
    if message.role == "tool" and not message.tool_call_id:
        raise _invalid(f"{where}.tool_call_id", "a tool message names the call it answers")
    if message.role != "tool" and message.tool_call_id is not None:
        raise _invalid(f"{where}.tool_call_id", "only a tool message answers a call")
    content = _text(where, message.content)
    if content is None and not (message.role == "assistant" and message.tool_calls):
        raise _invalid(
            f"{where}.content", "required (only an assistant message that calls tools may go without)"
        )
    try:
        return ChatMessage(
            role="system" if message.role == "developer" else message.role,
            content=content,
            tool_calls=[
                _tool_call(f"{where}.tool_calls.{n}", call) for n, call in enumerate(message.tool_calls or [])
            ],
            tool_call_id=message.tool_call_id,
            name=message.name,
        )
    except ValidationError as exc:
        # Text parts joined past what one message may hold.
        raise _invalid(where, exc.errors()[0]["msg"]) from None


def _text(where: str, content: list[wire.OpenAIContentPart] | None) -> str | None:
    """The message's text (its text parts joined by a newline); a part that is not text is
    refused by name."""
    if content is None:
        return None
    texts = []
    for index, part in enumerate(content):
        if part.type != "text":
            raise _unsupported(f"{where}.content.{index}.type", f"only text parts are taken, not {part.type}")
        if part.text is None:
            raise _invalid(f"{where}.content.{index}.text", "a text part needs its text")
        texts.append(part.text)
    return "\n".join(texts)


def _tool_call(where: str, call: wire.OpenAIToolCall) -> ToolCall:
    text = call.function.arguments
    try:
        arguments = json.loads(text) if text.strip() else {}
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        raise _invalid(f"{where}.function.arguments", "not a JSON object")
    return ToolCall(id=call.id, name=call.function.name, arguments=arguments)


def _unsupported(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}",
        code=UNSUPPORTED,
        details=[{"field": f"body.{field}", "message": message}],
    )


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}",
        code="validation_failed",
        details=[{"field": f"body.{field}", "message": message}],
    )

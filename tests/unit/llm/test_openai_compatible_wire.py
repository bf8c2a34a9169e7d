"""The OpenAI-compatible endpoint's pieces without I/O: the refusals, the answer's finish reason,
the streamed body, and OpenAI's error object."""

from __future__ import annotations

import json
from decimal import Decimal
from http import HTTPStatus

import pytest
from pydantic import ValidationError

from auralink.errors import ValidationFailed
from auralink.http import ErrorAnswer
from auralink.llm import registry
from auralink.llm.chat_types import ProviderReply, ToolCall, Usage
from auralink.llm.gateway import Completion
from auralink.llm.openai_compatible import stream, translate
from auralink.llm.openai_compatible.errors import openai_error_body
from auralink.llm.openai_compatible.wire import OpenAIChatCompletionRequest

MODEL = registry.endpoint_model("google", "gemini-test", "gemini")


def request(**fields) -> OpenAIChatCompletionRequest:
    return OpenAIChatCompletionRequest.model_validate(
        {"model": "google/gemini-test", "messages": [{"role": "user", "content": "hi"}], **fields}
    )


def done(
    *, content: str | None = "hi", calls: list[ToolCall] | None = None, reason: str | None = "stop"
) -> Completion:
    reply = ProviderReply(
        content=content,
        tool_calls=calls or [],
        usage=Usage(input_tokens=5, output_tokens=3),
        finish_reason=reason,
    )
    return Completion(model=MODEL, reply=reply, cost_usd=Decimal(0), latency_ms=12)


def test_json_types_are_taken_strictly() -> None:
    # `True == 1` in Python: were n=true taken as 1, it would pass for the neutral value.
    with pytest.raises(ValidationError, match="n"):
        request(n=True)
    with pytest.raises(ValidationError, match="stream"):
        request(stream="yes")
    translate.refuse_what_cannot_be_honoured(request(n=1, top_p=1, logprobs=False, frequency_penalty=0.0))


def test_every_refused_option_is_named_at_once() -> None:
    with pytest.raises(ValidationFailed) as refused:
        translate.refuse_what_cannot_be_honoured(request(seed=1, top_p=0.9))

    assert refused.value.code == "model_option_unsupported"
    assert [detail["field"] for detail in refused.value.details] == ["body.top_p", "body.seed"]
    assert refused.value.details[0]["message"] == "only 1"


@pytest.mark.parametrize(
    ("reason", "calls", "expected"),
    [
        ("stop", [], "stop"),
        ("length", [], "length"),
        ("content_filter", [], "content_filter"),
        # Gemini says STOP beside its function calls.
        ("stop", [ToolCall(id="c", name="f", arguments={})], "tool_calls"),
        (None, [ToolCall(id="c", name="f", arguments={})], "tool_calls"),
        ("malformed_function_call", [], "stop"),
        (None, [], "stop"),
    ],
)
def test_the_finish_reason_is_one_of_openais(reason, calls, expected) -> None:
    answer = translate.completion(done(calls=calls, reason=reason), completion_id="chatcmpl-1", created=1)

    assert answer.choices[0].finish_reason == expected


def test_tool_call_arguments_leave_as_a_json_string() -> None:
    calls = [ToolCall(id="c1", name="lookup", arguments={"word": "café"})]

    answer = translate.completion(done(content=None, calls=calls), completion_id="chatcmpl-1", created=1)

    (call,) = answer.choices[0].message.tool_calls or []
    assert (call.id, call.type, call.function.name) == ("c1", "function", "lookup")
    assert json.loads(call.function.arguments) == {"word": "café"}
    assert answer.usage.total_tokens == 8 and answer.model == "google/gemini-test"


def test_a_streamed_answer_with_its_usage() -> None:
    answer = translate.completion(done(content="Hello"), completion_id="chatcmpl-9", created=7)

    body = stream.events(answer, include_usage=True)

    frames = body.split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    first, last, usage = (json.loads(frame.removeprefix("data: ")) for frame in frames[:-2])
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "Hello"}
    assert (first["usage"], last["usage"]) == (None, None)
    assert last["choices"][0]["finish_reason"] == "stop"
    assert usage["choices"] == [] and usage["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
    }
    assert {chunk["id"] for chunk in (first, last, usage)} == {"chatcmpl-9"}


def test_the_error_object_names_the_field_as_openai_writes_it() -> None:
    details = [
        {
            "field": "body.messages.0.content.2.type",
            "message": "Input should be 'text'",
            "type": "literal_error",
        },
        {"field": "body.model", "message": "Field required", "type": "missing"},
    ]

    body, headers = openai_error_body(
        ErrorAnswer(
            HTTPStatus.UNPROCESSABLE_ENTITY, "validation_failed", "Request validation failed", details, "r-1"
        )
    )

    assert body == {
        "error": {
            "message": "messages[0].content[2].type: Input should be 'text' (and 1 more)",
            "type": "invalid_request_error",
            "param": "messages[0].content[2].type",
            "code": "validation_failed",
            "request_id": "r-1",
        }
    }
    assert headers == {}


@pytest.mark.parametrize(
    ("status", "retryable", "kind", "headers"),
    [
        (HTTPStatus.UNAUTHORIZED, None, "authentication_error", {}),
        (HTTPStatus.FORBIDDEN, None, "permission_error", {}),
        (HTTPStatus.NOT_FOUND, None, "invalid_request_error", {}),
        (HTTPStatus.TOO_MANY_REQUESTS, None, "rate_limit_error", {}),
        (HTTPStatus.BAD_GATEWAY, True, "server_error", {}),
        (HTTPStatus.BAD_GATEWAY, False, "server_error", {"x-should-retry": "false"}),
        (HTTPStatus.SERVICE_UNAVAILABLE, None, "server_error", {}),
    ],
)
def test_the_type_follows_the_status_and_a_hopeless_retry_is_discouraged(
    status, retryable, kind, headers
) -> None:
    body, extra = openai_error_body(ErrorAnswer(status, "some_code", "Something", retryable=retryable))

    assert (body["error"]["type"], body["error"]["param"], body["error"]["code"]) == (kind, None, "some_code")
    assert "request_id" not in body["error"]
    assert extra == headers

"""OpenAI Chat Completions: what a ProviderRequest becomes on the wire, and how an answer is read."""

from __future__ import annotations

from typing import Any

import pytest

from auralink.errors import BadRequest
from auralink.llm.chat_types import ChatMessage, ProviderRequest, ToolCall, ToolSpec
from auralink.llm.errors import PROTOCOL_ERROR, LlmUpstreamError
from auralink.llm.providers.openai import parse_reply, request_body

WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def conversation() -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="Weather in Paris and Rome?"),
        ChatMessage(
            role="assistant",
            tool_calls=[
                ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),
                ToolCall(id="call_2", name="get_weather", arguments={"city": "Rome"}),
            ],
        ),
        ChatMessage(role="tool", tool_call_id="call_1", content="sunny"),
        ChatMessage(role="tool", tool_call_id="call_2", content="rain"),
    ]


def completion(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": extra.pop("finish", "stop")}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25},
        **extra,
    }


def test_messages_tools_and_options_take_the_chat_completions_shape() -> None:
    request = ProviderRequest(
        model="gpt-4o-mini", messages=conversation(), tools=[WEATHER], temperature=0.2, max_tokens=50
    )

    body = request_body(request, official=False)

    assert body["model"] == "gpt-4o-mini"
    assert body["stream"] is False
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 50
    assert body["messages"][:2] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
    ]
    assistant = body["messages"][2]
    assert assistant["content"] is None
    assert assistant["tool_calls"][1] == {
        "id": "call_2",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
    }
    assert body["messages"][3:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER.parameters,
            },
        }
    ]


def test_openai_itself_gets_max_completion_tokens_and_no_empty_options() -> None:
    request = ProviderRequest(
        model="o3-mini", messages=[ChatMessage(role="user", content="hi")], max_tokens=9
    )

    body = request_body(request, official=True)

    assert body["max_completion_tokens"] == 9
    assert "max_tokens" not in body
    assert "tools" not in body
    assert "temperature" not in body


def test_a_tool_message_without_its_call_id_is_refused() -> None:
    request = ProviderRequest(model="m", messages=[ChatMessage(role="tool", content="x")])

    with pytest.raises(BadRequest, match="tool_call_id"):
        request_body(request, official=False)


def test_text_usage_finish_reason_and_model_are_read() -> None:
    reply = parse_reply(completion({"role": "assistant", "content": "Hello."}))

    assert reply.content == "Hello."
    assert reply.tool_calls == []
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (21, 4)
    assert reply.finish_reason == "stop"
    assert reply.model == "gpt-4o-mini-2024-07-18"


def test_tool_calls_come_back_with_parsed_arguments() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_9",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
            },
            {"id": "call_10", "type": "function", "function": {"name": "now", "arguments": ""}},
        ],
    }

    reply = parse_reply(completion(message, finish="tool_calls"))

    assert reply.content is None
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("call_9", "get_weather", {"city": "Oslo"}),
        ("call_10", "now", {}),
    ]
    assert reply.finish_reason == "tool_calls"


@pytest.mark.parametrize("arguments", ['{"city": "Oslo"', '["Oslo"]'])
def test_arguments_that_are_not_a_json_object_are_a_protocol_error(arguments: str) -> None:
    message = {
        "role": "assistant",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}],
    }

    with pytest.raises(LlmUpstreamError) as caught:
        parse_reply(completion(message))

    assert caught.value.code == PROTOCOL_ERROR
    assert "arguments of the call to f" in caught.value.message


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"choices": []}, "usage"),
        ({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}, "choices is empty"),
        (
            {"choices": [{"message": "hi"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
            "choices.0",
        ),
        ({"choices": [{"message": {}}], "usage": {"prompt_tokens": -1, "completion_tokens": 1}}, "usage"),
    ],
)
def test_answers_of_the_wrong_shape_are_a_protocol_error(answer: dict[str, Any], named: str) -> None:
    with pytest.raises(LlmUpstreamError) as caught:
        parse_reply(answer)

    assert caught.value.code == PROTOCOL_ERROR
    assert named in caught.value.message

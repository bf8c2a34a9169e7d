"""Each HTTP provider adapter against its loopback fake: text, usage, tool calls both ways, keys."""

from __future__ import annotations

import json

import pytest

from auralink.llm.chat_types import ChatMessage, ProviderRequest, ToolSpec
from auralink.llm.errors import AUTH_FAILED, LlmUpstreamError
from tests.fakes.openai_server import Calls, Text
from tests.integration.llm.providers.conftest import KEY, Target

DEADLINE_S = 5.0
WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def ask(text: str, *, tools: list[ToolSpec] | None = None) -> ProviderRequest:
    return ProviderRequest(
        model="test-model",
        messages=[ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content=text)],
        tools=tools or [],
    )


def test_a_text_answer_comes_back_with_its_usage(target: Target) -> None:
    target.server.script.then(Text("Bonjour.", input_tokens=123, output_tokens=45))

    reply = target.provider().chat(ask("Say hello"), access=target.access(), deadline_s=DEADLINE_S)

    assert reply.content == "Bonjour."
    assert reply.tool_calls == []
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (123, 45)
    assert reply.finish_reason == "stop"
    assert reply.model == "test-model"


def test_the_key_travels_only_in_its_header(target: Target) -> None:
    target.provider().chat(ask("hi"), access=target.access(), deadline_s=DEADLINE_S)

    [received] = target.server.script.received
    header = {"openai": "authorization", "anthropic": "x-api-key", "gemini": "x-goog-api-key"}[target.label]
    assert KEY in received.headers[header]
    assert KEY not in received.path + received.query
    assert KEY not in json.dumps(received.body)
    assert [name for name, value in received.headers.items() if KEY in value] == [header]


def test_a_tool_call_round_trip_over_two_turns(target: Target) -> None:
    provider = target.provider()
    target.server.script.then(
        Calls([("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})], input_tokens=50),
        Text("Sunny in Paris, rain in Rome."),
    )
    request = ask("Weather in Paris and Rome?", tools=[WEATHER])

    first = provider.chat(request, access=target.access(), deadline_s=DEADLINE_S)

    assert [(call.name, call.arguments) for call in first.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert len({call.id for call in first.tool_calls}) == 2
    assert first.finish_reason == "tool_calls"
    assert first.usage.input_tokens == 50

    history = [
        *request.messages,
        ChatMessage(role="assistant", content=first.content, tool_calls=first.tool_calls),
        ChatMessage(role="tool", tool_call_id=first.tool_calls[0].id, content="sunny"),
        ChatMessage(role="tool", tool_call_id=first.tool_calls[1].id, content="rain"),
    ]
    second = provider.chat(
        request.model_copy(update={"messages": history}), access=target.access(), deadline_s=DEADLINE_S
    )

    assert second.content == "Sunny in Paris, rain in Rome."
    first_body, second_body = (seen.body for seen in target.server.script.received)
    assert target.tool_names_declared(first_body) == ["get_weather"]
    assert target.tool_results(second_body) == ["sunny", "rain"]


def test_a_wrong_key_is_llm_auth_failed(target: Target) -> None:
    with pytest.raises(LlmUpstreamError) as caught:
        target.provider().chat(ask("hi"), access=target.access("sk-wrong"), deadline_s=DEADLINE_S)

    assert caught.value.code == AUTH_FAILED
    assert caught.value.retryable is False
    assert "sk-wrong" not in str(caught.value)


def test_with_nothing_scripted_the_fake_echoes_for_agent_frameworks(target: Target) -> None:
    reply = target.provider().chat(ask("ping"), access=target.access(), deadline_s=DEADLINE_S)

    assert reply.content == "echo: ping"

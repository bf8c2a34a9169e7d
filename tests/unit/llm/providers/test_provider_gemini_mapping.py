"""Google Gemini: contents and parts, systemInstruction, function declarations, calls and responses."""

from __future__ import annotations

import pytest

from auralink.errors import BadRequest
from auralink.llm.chat_types import ChatMessage, ProviderRequest, ToolCall, ToolSpec
from auralink.llm.errors import PROTOCOL_ERROR, LlmUpstreamError
from auralink.llm.providers.gemini import parse_reply, request_body

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": False}


def test_turns_become_contents_with_function_calls_and_named_responses() -> None:
    request = ProviderRequest(
        model="gemini-2.5-flash",
        messages=[
            ChatMessage(role="system", content="Be exact."),
            ChatMessage(role="user", content="Search twice."),
            ChatMessage(
                role="assistant",
                tool_calls=[
                    ToolCall(id="a", name="search", arguments={"q": "x"}),
                    ToolCall(id="b", name="count", arguments={}),
                ],
            ),
            ChatMessage(role="tool", tool_call_id="a", content='{"hits": 3}'),
            ChatMessage(role="tool", tool_call_id="b", content="two"),
        ],
        tools=[ToolSpec(name="search", description="Search.", parameters=SCHEMA), ToolSpec(name="count")],
        temperature=0,
        max_tokens=64,
    )

    body = request_body(request)

    assert body["systemInstruction"] == {"parts": [{"text": "Be exact."}]}
    assert body["generationConfig"] == {"temperature": 0, "maxOutputTokens": 64}
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "search", "description": "Search.", "parametersJsonSchema": SCHEMA},
                {"name": "count", "parametersJsonSchema": {"type": "object", "properties": {}}},
            ]
        }
    ]
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Search twice."}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "search", "args": {"q": "x"}}},
                {"functionCall": {"name": "count", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "search", "response": {"hits": 3}}},
                {"functionResponse": {"name": "count", "response": {"result": "two"}}},
            ],
        },
    ]


def test_a_tool_result_for_an_unknown_call_is_refused() -> None:
    request = ProviderRequest(
        model="m",
        messages=[
            ChatMessage(role="user", content="hi"),
            ChatMessage(role="tool", tool_call_id="zzz", content="x"),
        ],
    )

    with pytest.raises(BadRequest, match="tool_call_id"):
        request_body(request)


def test_text_function_calls_and_usage_with_thinking_are_read() -> None:
    reply = parse_reply(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "planning...", "thought": True},
                            {"text": "Searching."},
                            {"functionCall": {"name": "search", "args": {"q": "y"}}},
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 8, "thoughtsTokenCount": 5},
            "modelVersion": "gemini-2.5-flash-001",
        }
    )

    assert reply.content == "Searching."
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("search", {"q": "y"})]
    assert reply.tool_calls[0].id.startswith("call_")
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (30, 13)
    assert reply.finish_reason == "tool_calls"
    assert reply.model == "gemini-2.5-flash-001"


def test_a_blocked_prompt_is_an_empty_filtered_answer() -> None:
    reply = parse_reply(
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}
    )

    assert reply.content is None
    assert reply.finish_reason == "content_filter"
    assert reply.usage.input_tokens == 4


@pytest.mark.parametrize(
    "answer", [{"usageMetadata": {}}, {"candidates": []}, {"candidates": "x", "usageMetadata": {}}]
)
def test_answers_without_candidates_or_usage_are_a_protocol_error(answer: dict[str, object]) -> None:
    with pytest.raises(LlmUpstreamError) as caught:
        parse_reply(answer)

    assert caught.value.code == PROTOCOL_ERROR

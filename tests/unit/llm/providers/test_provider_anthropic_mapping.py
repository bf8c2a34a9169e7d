"""Anthropic Messages: system prompt apart, tool_use / tool_result blocks, alternating turns."""

from __future__ import annotations

import pytest

from auralink.errors import BadRequest
from auralink.llm.chat_types import ChatMessage, ProviderRequest, ToolCall, ToolSpec
from auralink.llm.errors import PROTOCOL_ERROR, LlmUpstreamError
from auralink.llm.providers.anthropic import DEFAULT_MAX_TOKENS, parse_reply, request_body

LOOKUP = ToolSpec(
    name="lookup", description="Look a word up.", parameters={"type": "object", "properties": {}}
)


def test_system_goes_top_level_and_tool_results_share_one_user_turn() -> None:
    request = ProviderRequest(
        model="claude-sonnet-4-5",
        messages=[
            ChatMessage(role="system", content="You are terse."),
            ChatMessage(role="system", content="Answer in French."),
            ChatMessage(role="user", content="Define two words."),
            ChatMessage(
                role="assistant",
                content="Looking them up.",
                tool_calls=[
                    ToolCall(id="toolu_1", name="lookup", arguments={"word": "a"}),
                    ToolCall(id="toolu_2", name="lookup", arguments={"word": "b"}),
                ],
            ),
            ChatMessage(role="tool", tool_call_id="toolu_1", content="first"),
            ChatMessage(role="tool", tool_call_id="toolu_2", content="second"),
            ChatMessage(role="user", content="Thanks."),
        ],
        tools=[LOOKUP],
        temperature=0.5,
    )

    body = request_body(request)

    assert body["system"] == "You are terse.\n\nAnswer in French."
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS
    assert body["temperature"] == 0.5
    assert body["tools"] == [
        {"name": "lookup", "description": "Look a word up.", "input_schema": LOOKUP.parameters}
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Define two words."}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking them up."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"word": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"word": "b"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "first"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "second"},
                {"type": "text", "text": "Thanks."},
            ],
        },
    ]


def test_max_tokens_given_is_kept_and_no_system_means_no_field() -> None:
    body = request_body(
        ProviderRequest(model="m", messages=[ChatMessage(role="user", content="hi")], max_tokens=77)
    )

    assert body["max_tokens"] == 77
    assert "system" not in body
    assert "tools" not in body


def test_a_conversation_of_system_messages_only_is_refused() -> None:
    with pytest.raises(BadRequest):
        request_body(ProviderRequest(model="m", messages=[ChatMessage(role="system", content="x")]))


def test_text_blocks_tool_use_usage_and_stop_reason_are_read() -> None:
    reply = parse_reply(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "Let me "},
                {"type": "text", "text": "check."},
                {"type": "tool_use", "id": "toolu_7", "name": "lookup", "input": {"word": "x"}},
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 40, "output_tokens": 12},
        }
    )

    assert reply.content == "Let me check."
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [("toolu_7", "lookup", {"word": "x"})]
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (40, 12)
    assert reply.finish_reason == "tool_calls"
    assert reply.model == "claude-sonnet-4-5-20250929"


@pytest.mark.parametrize(
    ("stop", "ours"), [("end_turn", "stop"), ("max_tokens", "length"), ("refusal", "content_filter")]
)
def test_stop_reasons_are_said_in_one_vocabulary(stop: str, ours: str) -> None:
    reply = parse_reply(
        {"content": [], "stop_reason": stop, "usage": {"input_tokens": 1, "output_tokens": 0}}
    )

    assert reply.finish_reason == ours
    assert reply.content is None


def test_a_tool_use_without_id_is_a_protocol_error() -> None:
    answer = {
        "content": [{"type": "tool_use", "name": "f", "input": {}}],
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }

    with pytest.raises(LlmUpstreamError) as caught:
        parse_reply(answer)

    assert caught.value.code == PROTOCOL_ERROR

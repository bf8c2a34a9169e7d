"""Bedrock Converse, its answers and errors played by a server on loopback (moto has no Converse)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from auralink import aws_json
from auralink.errors import ConfigurationError
from auralink.llm.chat_types import ChatMessage, ProviderRequest, ToolCall, ToolSpec
from auralink.llm.errors import (
    AUTH_FAILED,
    BAD_REQUEST,
    RATE_LIMITED,
    SERVER_ERROR,
    UNREACHABLE,
    LlmTimeout,
    LlmUpstreamError,
)
from auralink.llm.providers.base import ProviderAccess
from auralink.llm.providers.bedrock import BedrockProvider
from tests.support.aws_loopback import Loopback, serving

MODEL = "us.meta.llama3-3-70b-instruct-v1:0"
# The model id's colon is percent-encoded in the path.
CONVERSE_PATH = "/model/us.meta.llama3-3-70b-instruct-v1%3A0/converse"
HI = ProviderRequest(model=MODEL, messages=[ChatMessage(role="user", content="hi")])
ADD = ToolSpec(name="add", description="Add two numbers.", parameters={"type": "object", "properties": {}})


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Loopback]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    aws_json.forget_credentials()
    with serving() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
        yield server
        assert server.answers == [], "answers left unsent"


def sent(server: Loopback) -> list[dict[str, Any]]:
    """The bodies of the Converse calls the server received, each checked for its path and scope."""
    bodies = []
    for method, path, headers, body in server.received:
        assert (method, path) == ("POST", CONVERSE_PATH)
        assert "/bedrock/aws4_request" in headers["Authorization"]
        bodies.append(json.loads(body))
    return bodies


def answer(content: list[dict[str, Any]], stop: str = "end_turn") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 31, "outputTokens": 9, "totalTokens": 40},
        "metrics": {"latencyMs": 120},
    }


def test_a_text_answer_and_the_converse_request(bedrock: Loopback) -> None:
    bedrock.answer(200, answer([{"text": "Hello from Llama."}]))
    request = ProviderRequest(
        model=MODEL,
        messages=[ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hi")],
        max_tokens=100,
        temperature=0.3,
    )

    reply = BedrockProvider().chat(request, access=ProviderAccess(region="eu-west-1"), deadline_s=12)

    assert reply.content == "Hello from Llama."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (31, 9)
    assert reply.finish_reason == "stop"
    assert reply.model == MODEL
    assert sent(bedrock) == [
        {
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "system": [{"text": "Be brief."}],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.3},
        }
    ]
    # Signed for the region the access names.
    assert "/eu-west-1/bedrock/aws4_request" in bedrock.received[0][2]["Authorization"]


def test_tool_use_and_tool_results_round_trip(bedrock: Loopback, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    history = [
        ChatMessage(role="user", content="1+2 and 3+4?"),
        ChatMessage(
            role="assistant",
            tool_calls=[
                ToolCall(id="t1", name="add", arguments={"a": 1, "b": 2}),
                ToolCall(id="t2", name="add", arguments={"a": 3, "b": 4}),
            ],
        ),
        ChatMessage(role="tool", tool_call_id="t1", content="3"),
        ChatMessage(role="tool", tool_call_id="t2", content="7"),
    ]
    bedrock.answer(
        200,
        answer(
            [
                {"text": "Once more."},
                {"toolUse": {"toolUseId": "t3", "name": "add", "input": {"a": 3, "b": 7}}},
            ],
            "tool_use",
        ),
    )

    reply = BedrockProvider().chat(
        ProviderRequest(model=MODEL, messages=history, tools=[ADD]), access=ProviderAccess(), deadline_s=5
    )

    assert reply.content == "Once more."
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [("t3", "add", {"a": 3, "b": 7})]
    assert reply.finish_reason == "tool_calls"
    assert sent(bedrock) == [
        {
            "messages": [
                {"role": "user", "content": [{"text": "1+2 and 3+4?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"toolUse": {"toolUseId": "t1", "name": "add", "input": {"a": 1, "b": 2}}},
                        {"toolUse": {"toolUseId": "t2", "name": "add", "input": {"a": 3, "b": 4}}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"toolResult": {"toolUseId": "t1", "content": [{"text": "3"}]}},
                        {"toolResult": {"toolUseId": "t2", "content": [{"text": "7"}]}},
                    ],
                },
            ],
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "add",
                            "description": "Add two numbers.",
                            "inputSchema": {"json": ADD.parameters},
                        }
                    }
                ]
            },
        }
    ]


@pytest.mark.parametrize(
    ("aws_code", "status", "code", "retryable"),
    [
        ("ThrottlingException", 429, RATE_LIMITED, True),
        ("ServiceUnavailableException", 503, SERVER_ERROR, True),
        ("InternalServerException", 500, SERVER_ERROR, True),
        ("SomethingNew", 502, SERVER_ERROR, True),
        ("AccessDeniedException", 403, AUTH_FAILED, False),
        ("ValidationException", 400, BAD_REQUEST, False),
        ("ResourceNotFoundException", 404, BAD_REQUEST, False),
    ],
)
def test_aws_errors_get_our_codes(
    bedrock: Loopback, monkeypatch: pytest.MonkeyPatch, aws_code: str, status: int, code: str, retryable: bool
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Bedrock names the error in a header, with a URI after its name.
    bedrock.answer(
        status, {"message": "it went wrong"}, {"X-Amzn-ErrorType": f"{aws_code}:http://internal.amazon.com/"}
    )

    with pytest.raises(LlmUpstreamError) as caught:
        BedrockProvider().chat(HI, access=ProviderAccess(), deadline_s=5)

    assert caught.value.code == code
    assert caught.value.retryable is retryable
    assert caught.value.details["aws_error"] == aws_code
    assert caught.value.details["provider_message"] == "it went wrong"
    # Made once: the gateway decides on retries, within its deadline.
    assert len(bedrock.received) == 1


def test_a_refused_request_says_why_and_a_refused_role_does_not(bedrock: Loopback) -> None:
    bedrock.answer(400, {"message": "Malformed input request"}, {"X-Amzn-ErrorType": "ValidationException"})
    bedrock.answer(
        403,
        {"message": "User arn:aws:sts::1:assumed-role/x is not authorized"},
        {"X-Amzn-ErrorType": "AccessDeniedException"},
    )

    with pytest.raises(LlmUpstreamError) as invalid:
        BedrockProvider().chat(HI, access=ProviderAccess(region="us-east-1"), deadline_s=5)
    with pytest.raises(LlmUpstreamError) as refused:
        BedrockProvider().chat(HI, access=ProviderAccess(region="us-east-1"), deadline_s=5)

    assert (
        str(invalid.value)
        == "Amazon Bedrock rejected the call (ValidationException): Malformed input request"
    )
    assert str(refused.value) == "Amazon Bedrock refused the call (AccessDeniedException)"


def test_a_model_timeout_is_a_retryable_llm_timeout(bedrock: Loopback) -> None:
    bedrock.answer(408, {"message": "late"}, {"X-Amzn-ErrorType": "ModelTimeoutException"})

    with pytest.raises(LlmTimeout) as caught:
        BedrockProvider().chat(HI, access=ProviderAccess(region="us-east-1"), deadline_s=5)

    assert caught.value.retryable is True


def test_no_answer_within_the_deadline_is_an_llm_timeout(bedrock: Loopback) -> None:
    bedrock.answer(200, answer([{"text": "too late"}]), after_s=1.5)

    with pytest.raises(LlmTimeout, match=r"did not answer within 0\.6 s"):
        BedrockProvider().chat(HI, access=ProviderAccess(region="us-east-1"), deadline_s=0.6)


def test_an_unreachable_bedrock_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")

    with pytest.raises(LlmUpstreamError) as caught:
        BedrockProvider().chat(HI, access=ProviderAccess(region="us-east-1"), deadline_s=5)

    assert (caught.value.code, caught.value.retryable) == (UNREACHABLE, True)


def test_too_little_time_left_is_a_timeout_without_a_call(bedrock: Loopback) -> None:
    with pytest.raises(LlmTimeout):
        BedrockProvider().chat(HI, access=ProviderAccess(region="us-east-1"), deadline_s=0.2)

    assert bedrock.received == []


def test_without_a_region_or_credentials_it_is_the_deployment_s_error(
    bedrock: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match="region"):
        BedrockProvider().chat(HI, access=ProviderAccess(), deadline_s=5)

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(ConfigurationError, match="credentials"):
        BedrockProvider().chat(HI, access=ProviderAccess(), deadline_s=5)
    assert bedrock.received == []


def test_the_region_comes_from_the_environment(bedrock: Loopback, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    bedrock.answer(200, answer([{"text": "from Frankfurt"}]))

    reply = BedrockProvider().chat(HI, access=ProviderAccess(), deadline_s=10)

    assert reply.content == "from Frankfurt"
    assert "/eu-central-1/bedrock/aws4_request" in bedrock.received[0][2]["Authorization"]

"""Bedrock Converse through boto3, its answers and errors played by botocore's Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from auralink.errors import ConfigurationError
from auralink.llm.chat_types import ChatMessage, ProviderRequest, ToolCall, ToolSpec
from auralink.llm.errors import (
    AUTH_FAILED,
    BAD_REQUEST,
    RATE_LIMITED,
    SERVER_ERROR,
    LlmTimeout,
    LlmUpstreamError,
)
from auralink.llm.providers.base import ProviderAccess
from auralink.llm.providers.bedrock import (
    TIMEOUT_STEPS_S,
    BedrockProvider,
    ConverseClient,
    reset_clients,
    runtime_client,
    timeout_step,
)

MODEL = "us.meta.llama3-3-70b-instruct-v1:0"
HI = ProviderRequest(model=MODEL, messages=[ChatMessage(role="user", content="hi")])
ADD = ToolSpec(name="add", description="Add two numbers.", parameters={"type": "object", "properties": {}})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    reset_clients()
    yield
    reset_clients()


@pytest.fixture
def stubbed(aws: None) -> Iterator[tuple[BedrockProvider, Stubber, list[tuple[str | None, float]]]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    asked: list[tuple[str | None, float]] = []

    def clients(region: str | None, deadline_s: float) -> ConverseClient:
        asked.append((region, deadline_s))
        return client  # type: ignore[return-value]

    with Stubber(client) as stubber:
        yield BedrockProvider(clients=clients), stubber, asked
        stubber.assert_no_pending_responses()


def answer(content: list[dict[str, Any]], stop: str = "end_turn") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 31, "outputTokens": 9, "totalTokens": 40},
        "metrics": {"latencyMs": 120},
    }


def test_a_text_answer_and_the_converse_request(stubbed: tuple[BedrockProvider, Stubber, list[Any]]) -> None:
    provider, stubber, asked = stubbed
    stubber.add_response(
        "converse",
        answer([{"text": "Hello from Llama."}]),
        expected_params={
            "modelId": MODEL,
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "system": [{"text": "Be brief."}],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.3},
        },
    )
    request = ProviderRequest(
        model=MODEL,
        messages=[ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hi")],
        max_tokens=100,
        temperature=0.3,
    )

    reply = provider.chat(request, access=ProviderAccess(region="eu-west-1"), deadline_s=12)

    assert reply.content == "Hello from Llama."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (31, 9)
    assert reply.finish_reason == "stop"
    assert reply.model == MODEL
    assert asked == [("eu-west-1", 12)]


def test_tool_use_and_tool_results_round_trip(stubbed: tuple[BedrockProvider, Stubber, list[Any]]) -> None:
    provider, stubber, _ = stubbed
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
    stubber.add_response(
        "converse",
        answer(
            [
                {"text": "Once more."},
                {"toolUse": {"toolUseId": "t3", "name": "add", "input": {"a": 3, "b": 7}}},
            ],
            "tool_use",
        ),
        expected_params={
            "modelId": MODEL,
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
        },
    )

    reply = provider.chat(
        ProviderRequest(model=MODEL, messages=history, tools=[ADD]), access=ProviderAccess(), deadline_s=5
    )

    assert reply.content == "Once more."
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [("t3", "add", {"a": 3, "b": 7})]
    assert reply.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("aws_code", "code", "retryable"),
    [
        ("ThrottlingException", RATE_LIMITED, True),
        ("ServiceUnavailableException", SERVER_ERROR, True),
        ("InternalServerException", SERVER_ERROR, True),
        ("AccessDeniedException", AUTH_FAILED, False),
        ("ValidationException", BAD_REQUEST, False),
        ("ResourceNotFoundException", BAD_REQUEST, False),
    ],
)
def test_aws_errors_get_our_codes(
    stubbed: tuple[BedrockProvider, Stubber, list[Any]], aws_code: str, code: str, retryable: bool
) -> None:
    provider, stubber, _ = stubbed
    stubber.add_client_error(
        "converse", service_error_code=aws_code, service_message="it went wrong", http_status_code=400
    )

    with pytest.raises(LlmUpstreamError) as caught:
        provider.chat(
            ProviderRequest(model=MODEL, messages=[ChatMessage(role="user", content="hi")]),
            access=ProviderAccess(),
            deadline_s=5,
        )

    assert caught.value.code == code
    assert caught.value.retryable is retryable
    assert caught.value.details["aws_error"] == aws_code


def test_a_model_timeout_is_a_retryable_llm_timeout(
    stubbed: tuple[BedrockProvider, Stubber, list[Any]],
) -> None:
    provider, stubber, _ = stubbed
    stubber.add_client_error("converse", service_error_code="ModelTimeoutException", http_status_code=408)

    with pytest.raises(LlmTimeout) as caught:
        provider.chat(
            ProviderRequest(model=MODEL, messages=[ChatMessage(role="user", content="hi")]),
            access=ProviderAccess(),
            deadline_s=5,
        )

    assert caught.value.retryable is True


def test_a_read_timeout_is_llm_timeout(aws: None) -> None:
    class TimingOut:
        def converse(self, **kwargs: Any) -> dict[str, Any]:
            raise ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com")

    provider = BedrockProvider(clients=lambda region, deadline: TimingOut())

    with pytest.raises(LlmTimeout):
        provider.chat(
            ProviderRequest(model=MODEL, messages=[ChatMessage(role="user", content="hi")]),
            access=ProviderAccess(),
            deadline_s=5,
        )


def test_clients_are_cached_per_region_with_a_read_timeout_within_the_deadline(aws: None) -> None:
    first = runtime_client("us-east-1", 25.0)

    assert runtime_client("us-east-1", 29.9) is first
    assert runtime_client("us-west-2", 25.0) is not first
    config = first.meta.config  # type: ignore[attr-defined]
    assert config.read_timeout == 20.0
    assert config.connect_timeout == 5.0
    assert config.retries["total_max_attempts"] == 1
    assert first.meta.region_name == "us-east-1"  # type: ignore[attr-defined]


@pytest.mark.parametrize("deadline_s", [0.5, 1.0, 4.99, 7.5, 45.0, 1_000.0])
def test_the_read_timeout_step_never_exceeds_the_deadline(deadline_s: float) -> None:
    step = timeout_step(deadline_s)

    assert step in TIMEOUT_STEPS_S
    assert step <= deadline_s


def test_too_little_time_left_is_a_timeout_without_a_call(aws: None) -> None:
    def clients(region: str | None, deadline_s: float) -> ConverseClient:
        raise AssertionError("no client is needed")

    with pytest.raises(LlmTimeout):
        BedrockProvider(clients=clients).chat(HI, access=ProviderAccess(), deadline_s=0.2)


def test_the_default_client_factory_serves_the_call(aws: None) -> None:
    client = runtime_client("us-east-1", 10)
    with Stubber(client) as stubber:  # type: ignore[arg-type]
        stubber.add_response("converse", answer([{"text": "cached"}]))

        reply = BedrockProvider().chat(HI, access=ProviderAccess(region="us-east-1"), deadline_s=10)

    assert reply.content == "cached"


def test_the_region_comes_from_the_environment_or_is_a_configuration_error(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match="region"):
        runtime_client(None, 10)

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert runtime_client(None, 10).meta.region_name == "eu-central-1"  # type: ignore[attr-defined]

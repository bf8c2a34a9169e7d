"""The OpenAI-compatible endpoint over its handlers: what reaches the provider, what is refused and
how, OpenAI's error object, the shared rate limit, and the models a caller can use.

(The official client's view, over HTTP, is tests/e2e/test_e2e_openai_endpoint.py.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from auralink import run_tokens
from auralink.auth import Identity
from auralink.db import tenant_transaction
from auralink.llm import chat
from auralink.llm.chat_models import ChatRequest
from auralink.llm.openai_compatible import service
from auralink.llm.openai_compatible.wire import OpenAIChatCompletionRequest
from auralink.quotas.models import QuotaExceeded
from tests.fakes.openai_server import Calls, Fail, Text
from tests.integration.llm.chat.conftest import KEY
from tests.support import environment
from tests.support.clock import FakeClock
from tests.support.handlers import http_event, invoke, request
from tests.support.runs import create_run

CHAT = "LlmOpenAIChatFunction"
MODELS = "LlmOpenAIModelsFunction"
MODEL = "openai/gpt-5.4-mini"
HI = [{"role": "user", "content": "Hi"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
def user(api, make_user_id, openai_compatible) -> str:
    """A user whose own key and base URL reach the loopback provider."""
    user = make_user_id("openai")
    status, body = api(
        "LlmPutPreferencesFunction",
        user,
        body={"providers": {"openai": {"api_key": KEY, "base_url": openai_compatible.base_url + "/v1"}}},
    )
    assert status == 200, body
    return user


@pytest.fixture
def completions(llm, token_for):
    def call(user: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        return request(CHAT, token_for(user), body=body)

    return call


def sent(server) -> dict[str, Any]:
    return server.script.received[-1].body


def test_stop_developer_turns_text_parts_and_hints(completions, user, openai_compatible):
    openai_compatible.script.then(Text("ok"))

    status, answer, _ = completions(
        user,
        {
            "model": MODEL,
            "messages": [
                {"role": "developer", "content": "Answer in French."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}],
                },
            ],
            "stop": "\nObservation:",
            "max_completion_tokens": 40,
            "user": "end-user-1",
            "metadata": {"team": "research"},
            "safety_identifier": "hashed-user",
            "prompt_cache_key": "research",
        },
    )

    assert status == 200, answer
    body = sent(openai_compatible)
    assert body["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello\nthere"},
    ]
    assert (body["stop"], body["max_tokens"]) == (["\nObservation:"], 40)
    assert not {"user", "metadata", "safety_identifier", "prompt_cache_key"} & set(body)


def test_options_at_their_neutral_value_are_taken(completions, user, openai_compatible):
    openai_compatible.script.then(Text("ok"))
    neutral = {
        "n": 1,
        "top_p": 1,
        "frequency_penalty": 0,
        "presence_penalty": 0,
        "logprobs": False,
        "top_logprobs": 0,
        "logit_bias": {},
        "parallel_tool_calls": True,
        "response_format": {"type": "text"},
        "store": False,
        "service_tier": "auto",
        "modalities": ["text"],
    }

    status, answer, _ = completions(user, {"model": MODEL, "messages": HI, **neutral})

    assert status == 200, answer
    assert not set(neutral) & set(sent(openai_compatible))


@pytest.mark.parametrize(
    ("option", "param"),
    [
        ({"n": 2}, "n"),
        ({"top_p": 0.5}, "top_p"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"logprobs": True}, "logprobs"),
        ({"seed": 7}, "seed"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"store": True}, "store"),
        ({"reasoning_effort": "high"}, "reasoning_effort"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"tool_choice": "required", "tools": [WEATHER]}, "tool_choice"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "tools": [WEATHER]},
            "tool_choice",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}],
                    }
                ]
            },
            "messages[0].content[0].type",
        ),
    ],
)
def test_what_the_gateway_cannot_honour_is_refused_by_name(
    completions, user, openai_compatible, option, param
):
    status, answer, _ = completions(user, {"model": MODEL, "messages": HI} | option)

    assert status == 422, answer
    error = answer["error"]
    assert (error["code"], error["param"], error["type"]) == (
        "model_option_unsupported",
        param,
        "invalid_request_error",
    )
    assert openai_compatible.script.received == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL, "messages": HI, "temperature_scale": 2}, "temperature_scale"),
        ({"model": MODEL, "messages": HI, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": MODEL, "messages": [{"role": "user"}]}, "messages[0].content"),
        ({"model": MODEL, "messages": [{"role": "tool", "content": "sunny"}]}, "messages[0].tool_call_id"),
        (
            {
                "model": MODEL,
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
                        ],
                    }
                ],
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x", "tool_call_id": "c1"}]},
            "messages[0].tool_call_id",
        ),
        ({"model": MODEL, "messages": HI, "max_tokens": 10, "max_completion_tokens": 20}, None),
        ({"model": MODEL, "messages": HI, "stream_options": {"include_usage": True}}, None),
    ],
)
def test_a_malformed_request_is_a_422_naming_its_field(completions, user, openai_compatible, body, param):
    status, answer, _ = completions(user, body)

    assert status == 422, answer
    assert (answer["error"]["code"], answer["error"]["param"]) == ("validation_failed", param)
    assert openai_compatible.script.received == []


def test_max_tokens_past_the_cap_names_the_field_sent(completions, user):
    status, answer, _ = completions(user, {"model": MODEL, "messages": HI, "max_completion_tokens": 10**6})

    assert status == 422
    assert (answer["error"]["code"], answer["error"]["param"]) == (
        "max_tokens_too_large",
        "max_completion_tokens",
    )
    assert "16384" in answer["error"]["message"]


def test_strict_tools_are_asked_of_an_openai_provider(completions, user, openai_compatible):
    openai_compatible.script.then(Text("ok"))
    strict = {"type": "function", "function": {**WEATHER["function"], "strict": True}}

    status, answer, _ = completions(user, {"model": MODEL, "messages": HI, "tools": [strict, WEATHER]})

    assert status == 200, answer
    assert [tool["function"].get("strict") for tool in sent(openai_compatible)["tools"]] == [True, None]


def test_tool_choice_none_sends_no_tools(completions, user, openai_compatible):
    openai_compatible.script.then(Text("no tools needed"))

    status, answer, _ = completions(
        user, {"model": MODEL, "messages": HI, "tools": [WEATHER], "tool_choice": "none"}
    )

    assert status == 200, answer
    assert "tools" not in sent(openai_compatible)
    assert answer["choices"][0]["message"]["content"] == "no tools needed"


def test_stream_true_is_one_event_stream_body(llm, token_for, user, openai_compatible):
    openai_compatible.script.then(Calls([("get_weather", {"city": "Oslo"})], content="Looking it up."))
    event = http_event(CHAT, token=token_for(user))
    event["body"] = json.dumps({"model": MODEL, "messages": HI, "tools": [WEATHER], "stream": True})

    response = invoke(CHAT, event)

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/event-stream"
    frames = response["body"].split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(frame.removeprefix("data: ")) for frame in frames[:-2]]
    assert [chunk["object"] for chunk in chunks] == ["chat.completion.chunk"] * 2
    first, last = chunks
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["choices"][0]["delta"]["content"] == "Looking it up."
    (call,) = first["choices"][0]["delta"]["tool_calls"]
    assert (call["index"], call["function"]["name"]) == (0, "get_weather")
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert (last["choices"][0]["delta"], last["choices"][0]["finish_reason"]) == ({}, "tool_calls")
    assert "usage" not in first


def test_without_a_token_the_function_answers_openais_401(llm):
    status, answer, headers = request(CHAT, None, body={"model": MODEL, "messages": HI})

    assert status == 401
    assert {key: answer["error"][key] for key in ("type", "param", "code")} == {
        "type": "authentication_error",
        "param": None,
        "code": "token_missing",
    }
    assert headers["WWW-Authenticate"].startswith("Bearer")


def test_a_refused_key_is_a_502_that_clients_are_told_not_to_retry(
    completions, user, openai_compatible, capsys
):
    openai_compatible.script.then(Fail(401, "Incorrect API key provided"))

    status, answer, headers = completions(user, {"model": MODEL, "messages": HI})

    assert (status, answer["error"]["code"], answer["error"]["type"]) == (
        502,
        "llm_auth_failed",
        "server_error",
    )
    assert headers["x-should-retry"] == "false"
    assert answer["error"]["request_id"]
    assert KEY not in json.dumps(answer) and KEY not in capsys.readouterr().out


def test_a_server_error_after_the_gateways_retries_leaves_the_retry_to_the_client(
    completions, user, openai_compatible
):
    openai_compatible.script.then(*[Fail(503, "overloaded")] * 3)

    status, answer, headers = completions(user, {"model": MODEL, "messages": HI})

    assert (status, answer["error"]["code"]) == (502, "llm_server_error")
    assert "x-should-retry" not in headers


def test_both_chat_routes_share_the_callers_rate_limit(llm, user, openai_compatible):
    llm.setenv("QUOTA_LLM_CHAT_PER_MINUTE", "2")
    environment.forget_caches()
    identity = Identity(sub=user)
    clock = FakeClock(datetime(2031, 3, 4, 10, 0, 30, tzinfo=UTC))
    openai_compatible.script.then(Text("one"), Text("two"))
    ask = {"model": MODEL, "messages": HI}

    chat.chat(identity, ChatRequest.model_validate(ask), remaining_ms=20_000, clock=clock)
    service.create_completion(
        identity, OpenAIChatCompletionRequest.model_validate(ask), remaining_ms=20_000, clock=clock
    )
    with pytest.raises(QuotaExceeded) as refused:
        service.create_completion(
            identity, OpenAIChatCompletionRequest.model_validate(ask), remaining_ms=20_000, clock=clock
        )

    assert (refused.value.code, refused.value.retry_after_seconds) == ("quota_exceeded", 30)
    assert len(openai_compatible.script.received) == 2


def test_a_runs_token_is_a_key_whose_calls_are_the_runs(llm, user, openai_compatible):
    """A crew calls models with its run's token: its calls are recorded against the run, and are
    bounded as a run's model calls are rather than by the rate limit of a person's chat."""
    boto3.client("secretsmanager").create_secret(Name="auralink/test/run-tokens", SecretString="s" * 48)
    llm.setenv("SERVICE_TOKEN_SECRET_ID", "auralink/test/run-tokens")
    llm.setenv("QUOTA_LLM_CHAT_PER_MINUTE", "1")
    environment.forget_caches()
    run_id = create_run(user, framework="crewai")
    token = run_tokens.mint(user, run_id, ttl_s=60)
    openai_compatible.script.then(Text("one"), Text("two"))

    answers = [request(CHAT, token, body={"model": MODEL, "messages": HI}) for _ in range(2)]
    models_status, models, _ = request(MODELS, token)

    assert [(status, answer["choices"][0]["message"]["content"]) for status, answer, _ in answers] == [
        (200, "one"),
        (200, "two"),
    ]
    assert models_status == 200 and MODEL in {model["id"] for model in models["data"]}
    with tenant_transaction(user) as conn:
        rows = conn.execute("SELECT run_id::text AS run_id, status FROM llm_performance_metrics").fetchall()
    assert rows == [{"run_id": run_id, "status": "success"}] * 2


def test_the_models_follow_the_callers_keys(llm, api, token_for, make_user_id, openai_compatible):
    def ids(user: str) -> set[str]:
        status, answer, _ = request(MODELS, token_for(user))
        assert status == 200, answer
        assert answer["object"] == "list"
        return {model["id"] for model in answer["data"]}

    nobody, own_endpoint = make_user_id("bare"), make_user_id("ollama")
    status, body = api(
        "LlmPutPreferencesFunction",
        own_endpoint,
        body={
            "default_model": "openai/llama3.2:latest",
            "providers": {"openai": {"base_url": openai_compatible.base_url + "/v1"}},
        },
    )
    assert status == 200, body
    bare = ids(nobody)
    with_endpoint = ids(own_endpoint)
    boto3.client("secretsmanager").create_secret(
        Name="auralink/test/openai-models-keys", SecretString=json.dumps({"anthropic": "sk-ant-service"})
    )
    llm.setenv("LLM_SERVICE_KEYS_SECRET_ID", "auralink/test/openai-models-keys")
    environment.forget_caches()
    with_service_key = ids(nobody)

    assert {model.split("/")[0] for model in bare} == {"meta"}
    assert {model.split("/")[0] for model in with_endpoint} == {"meta", "openai"}
    # The default model of their own endpoint, which the registry cannot list, is listed for them.
    assert "openai/llama3.2:latest" in with_endpoint and "openai/llama3.2:latest" not in bare
    assert {model.split("/")[0] for model in with_service_key} == {"meta", "anthropic"}


def test_the_models_list_refuses_a_stranger_in_openais_shape(llm):
    status, answer, _ = request(MODELS, "not-a-jwt")

    assert status == 401
    assert (answer["error"]["type"], answer["error"]["code"]) == ("authentication_error", "token_malformed")

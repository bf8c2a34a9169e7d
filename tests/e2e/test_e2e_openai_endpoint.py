"""The official `openai` client against the OpenAI-compatible endpoint of the local runtime.

The user's own key and base URL point the gateway at an OpenAI-compatible server on loopback, so
every call goes the whole way: the client, HTTP, the JWT authorizer, the function, the gateway,
the provider, and the metrics row. The route's rate limit is set low for the module (each test
has users of its own) so that a 429 can be reached in a few calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from infra.local.postgres import LocalDatabase
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.e2e.conftest import runtime_database_url
from tests.fakes.openai_server import Calls, Fail, LlmServer, Text, openai_server
from tests.support.runtime import local_runtime_with

KEY = "sk-e2e-openai-endpoint-0123456789abcdef"
MODEL = "openai/gpt-5.4-mini"
CHAT_CALLS_PER_MINUTE = 4
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def provider() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_script(provider: LlmServer) -> None:
    provider.script.reset()


@pytest.fixture(scope="module")
def local_runtime(database: LocalDatabase) -> Iterator[LocalRuntime]:
    variables = {"QUOTA_LLM_CHAT_PER_MINUTE": str(CHAT_CALLS_PER_MINUTE)}
    with local_runtime_with(runtime_database_url(database), variables) as runtime:
        yield runtime


Client = Callable[..., openai.OpenAI]


@pytest.fixture
def client_for(local_runtime: LocalRuntime, api: httpx.Client, provider: LlmServer) -> Iterator[Client]:
    """An OpenAI client whose API key is a new user's JWT; that user's key and base URL reach the
    loopback provider. Clients retry nothing, so that each error is seen as the endpoint gave it."""
    made: list[openai.OpenAI] = []

    def make(user: str, *, configure: bool = True, **options: Any) -> openai.OpenAI:
        token = mint_dev_token(user)
        if configure:
            stored = api.put(
                "/api/v1/llm/preferences",
                headers={"Authorization": f"Bearer {token}"},
                json={"providers": {"openai": {"api_key": KEY, "base_url": provider.base_url + "/v1"}}},
            )
            assert stored.status_code == 200, stored.text
        client = openai.OpenAI(
            base_url=local_runtime.url + "/api/v1/llm/openai/v1",
            api_key=token,
            max_retries=options.pop("max_retries", 0),
            timeout=30,
            **options,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def metrics_of(api: httpx.Client, user: str) -> dict[str, Any]:
    answer = api.get("/api/v1/llm/metrics", headers={"Authorization": f"Bearer {mint_dev_token(user)}"})
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["models"]
    return row


def test_a_text_answer_with_its_usage_and_a_metrics_row(client_for, api, provider, make_user_id) -> None:
    user = make_user_id("openai-text")
    provider.script.then(Text("Hello from the provider", input_tokens=120, output_tokens=30))

    completion = client_for(user).chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        temperature=0.2,
        max_tokens=64,
        stop=["\nObservation:"],
        user="end-user-7",
    )

    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL and completion.created > 0
    (choice,) = completion.choices
    assert choice.message.role == "assistant" and choice.message.content == "Hello from the provider"
    assert choice.message.tool_calls is None and choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (120, 30)
    assert completion.usage.total_tokens == 150
    sent = provider.script.received[-1]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-5.4-mini" and sent.body["messages"][0] == {
        "role": "system",
        "content": "Be brief.",
    }
    assert (sent.body["temperature"], sent.body["max_tokens"], sent.body["stop"]) == (
        0.2,
        64,
        ["\nObservation:"],
    )
    assert "user" not in sent.body
    row = metrics_of(api, user)
    assert (row["model"], row["calls"], row["errors"]) == (MODEL, 1, 0)
    assert (row["input_tokens"], row["output_tokens"]) == (120, 30)


def test_a_tool_call_round_trip(client_for, api, provider, make_user_id) -> None:
    user = make_user_id("openai-tools")
    client = client_for(user)
    provider.script.then(Calls([("get_weather", {"city": "Paris"})]), Text("Sunny in Paris."))
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]

    asked = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice="auto"
    )
    (choice,) = asked.choices
    (call,) = choice.message.tool_calls or []
    messages += [choice.message, {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 C"}]
    answered = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])

    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert answered.choices[0].message.content == "Sunny in Paris."
    first, second = (received.body for received in provider.script.received)
    assert first["tools"] == [WEATHER]
    # The assistant turn as the client sent it back, and the tool's answer, reach the provider.
    assistant, tool = second["messages"][1:]
    assert assistant["tool_calls"] == [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert tool == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 C"}
    assert metrics_of(api, user)["calls"] == 2


def test_stream_true_answers_chunks_in_one_body(client_for, provider, make_user_id) -> None:
    provider.script.then(Text("Streamed whole", input_tokens=9, output_tokens=4))

    chunks = list(
        client_for(make_user_id("openai-stream")).chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Streamed whole"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (9, 4, 13)
    # The provider itself was asked for a whole answer.
    assert provider.script.received[-1].body["stream"] is False


def test_a_streamed_tool_call_is_assembled_by_the_clients_helper(client_for, provider, make_user_id) -> None:
    provider.script.then(Calls([("get_weather", {"city": "Rome"})]))

    with client_for(make_user_id("openai-stream-tools")).chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "Rome?"}], tools=[WEATHER]
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()

    (call,) = final.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Rome"}
    assert final.choices[0].finish_reason == "tool_calls"


def test_models_lists_what_the_caller_can_use(client_for, make_user_id) -> None:
    with_key = client_for(make_user_id("openai-models")).models.list().data
    without = client_for(make_user_id("openai-no-key"), configure=False).models.list().data

    assert MODEL in {model.id for model in with_key}
    assert {model.owned_by for model in with_key} == {"openai", "meta"}
    # No key of their own and none of the service's: only what the deployment's AWS account reaches.
    assert {model.owned_by for model in without} == {"meta"}
    assert all(model.object == "model" and model.id.startswith(f"{model.owned_by}/") for model in with_key)


def test_an_unknown_model_is_an_openai_error_object(client_for, make_user_id) -> None:
    # Without a base URL of their own, a model the registry does not list is not found.
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client_for(make_user_id("openai-bad-model"), configure=False).chat.completions.create(
            model="openai/gpt-0", messages=[{"role": "user", "content": "Hi"}]
        )

    error = raised.value
    assert error.status_code == 422 and error.code == "model_not_found"
    assert error.type == "invalid_request_error" and "gpt-0" in error.body["message"]
    assert isinstance(error.body, dict) and set(error.body) >= {"message", "type", "param", "code"}


def test_a_bad_body_names_its_field(client_for, api, make_user_id) -> None:
    user = make_user_id("openai-bad-body")
    client = client_for(user)

    with pytest.raises(openai.UnprocessableEntityError) as wrong_role:
        client.chat.completions.create(model=MODEL, messages=[{"role": "wizard", "content": "Hi"}])
    with pytest.raises(openai.UnprocessableEntityError) as no_provider:
        client.chat.completions.create(model="gpt-5.4-mini", messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(openai.UnprocessableEntityError) as two_choices:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], n=2)
    not_json = api.post(
        "/api/v1/llm/openai/v1/chat/completions",
        headers={"Authorization": f"Bearer {mint_dev_token(user)}", "Content-Type": "application/json"},
        content=b"{not json",
    )

    assert (wrong_role.value.code, wrong_role.value.param) == ("validation_failed", "messages[0].role")
    assert (no_provider.value.code, no_provider.value.param) == ("validation_failed", "model")
    assert (two_choices.value.code, two_choices.value.param) == ("model_option_unsupported", "n")
    assert two_choices.value.body["message"] == "The gateway cannot honour n"
    assert not_json.status_code == 400
    assert {key: not_json.json()["error"][key] for key in ("type", "param", "code")} == {
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_json",
    }


def test_without_a_valid_token_the_client_is_refused(local_runtime) -> None:
    client = openai.OpenAI(
        base_url=local_runtime.url + "/api/v1/llm/openai/v1", api_key="not-a-jwt", max_retries=0
    )

    with pytest.raises(openai.AuthenticationError) as raised, client:
        client.models.list()

    assert raised.value.status_code == 401


def test_a_failing_provider_is_a_502_error_object_and_a_failed_metrics_row(
    client_for, api, provider, make_user_id
) -> None:
    user = make_user_id("openai-upstream")
    provider.script.then(Fail(500, "boom"), Fail(500, "boom"), Fail(500, "boom"))

    with pytest.raises(openai.InternalServerError) as raised:
        client_for(user).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])

    error = raised.value
    assert (error.status_code, error.code, error.type) == (502, "llm_server_error", "server_error")
    assert KEY not in json.dumps(error.body)
    row = metrics_of(api, user)
    assert (row["calls"], row["errors"]) == (1, 1)


def test_past_the_routes_rate_limit_a_429_with_retry_after(client_for, api, provider, make_user_id) -> None:
    user = make_user_id("openai-quota")
    client = client_for(user)
    messages = [{"role": "user", "content": "Hi"}]
    answered = 0

    # Within the limit and one more, the limit is reached, whenever the clock's minute turns.
    with pytest.raises(openai.RateLimitError) as raised:
        for _ in range(2 * CHAT_CALLS_PER_MINUTE + 1):
            client.chat.completions.create(model=MODEL, messages=messages)
            answered += 1

    error = raised.value
    assert (error.status_code, error.code, error.type) == (429, "quota_exceeded", "rate_limit_error")
    assert int(error.response.headers["retry-after"]) > 0
    assert answered >= CHAT_CALLS_PER_MINUTE
    # The refused request reached no provider and made no metrics row; every answered one did.
    assert len(provider.script.received) == answered
    assert metrics_of(api, user)["calls"] == answered

"""Chat through the gateway: key resolution, the provider call, cost from the registry, metrics."""

from __future__ import annotations

from decimal import Decimal

from auralink.llm import registry
from tests.fakes.openai_server import Calls, Fail, Text
from tests.integration.llm.chat.conftest import KEY
from tests.support.handlers import invoke, request, sample_event

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}]


def use_openai_compatible(api, user, server, model="openai/gpt-5.4-mini"):
    status, body = api(
        "LlmPutPreferencesFunction",
        user,
        body={
            "default_model": model,
            "providers": {"openai": {"api_key": KEY, "base_url": server.base_url + "/v1"}},
        },
    )
    assert status == 200, body


def test_a_chat_on_the_users_own_endpoint_is_priced_and_measured(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Text("hi!", input_tokens=1200, output_tokens=300))

    status, answer = api("LlmChatFunction", user, body={"messages": MESSAGES})
    _, report = api("LlmMetricsFunction", user, query={"window_hours": "1"})

    assert status == 200, answer
    assert answer["model"] == "openai/gpt-5.4-mini" and answer["content"] == "hi!"
    assert answer["usage"] == {"input_tokens": 1200, "output_tokens": 300}
    model = registry.resolve_model("openai/gpt-5.4-mini")
    expected = (
        Decimal(1200) * model.input_price_per_mtok / 10**6
        + Decimal(300) * model.output_price_per_mtok / 10**6
    )
    assert Decimal(str(answer["cost_usd"])) == expected
    (row,) = report["models"]
    assert (row["model"], row["calls"], row["errors"]) == ("openai/gpt-5.4-mini", 1, 0)
    assert (row["input_tokens"], row["output_tokens"]) == (1200, 300)
    assert Decimal(str(row["cost_usd"])) == expected
    sent = openai_compatible.script.received[-1]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-5.4-mini" and sent.body["messages"][0]["role"] == "system"


def test_tool_calls_come_back_to_the_caller(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Calls([("calculator", {"expression": "6*7"})]))
    tools = [{"name": "calculator", "description": "Arithmetic", "parameters": {"type": "object"}}]

    status, answer = api("LlmChatFunction", user, body={"messages": MESSAGES, "tools": tools})

    assert status == 200, answer
    (call,) = answer["tool_calls"]
    assert call["name"] == "calculator" and call["arguments"] == {"expression": "6*7"}
    assert openai_compatible.script.received[-1].body["tools"][0]["function"]["name"] == "calculator"


def test_stop_sequences_reach_the_provider(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Text("Thought: look it up"))

    status, answer = api(
        "LlmChatFunction", user, body={"messages": MESSAGES, "stop": ["\nObservation:", "END"]}
    )
    too_many_status, too_many = api(
        "LlmChatFunction", user, body={"messages": MESSAGES, "stop": list("abcde")}
    )

    assert status == 200, answer
    assert openai_compatible.script.received[-1].body["stop"] == ["\nObservation:", "END"]
    assert (too_many_status, too_many["error"]["details"][0]["field"]) == (422, "body.stop")


def test_a_failing_provider_is_a_502_and_a_failed_metrics_row(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Fail(500, "boom"), Fail(500, "boom"), Fail(500, "boom"))

    status, answer = api("LlmChatFunction", user, body={"messages": MESSAGES})
    _, report = api("LlmMetricsFunction", user)

    assert (status, answer["error"]["code"]) == (502, "llm_server_error")
    (row,) = report["models"]
    assert (row["calls"], row["errors"], row["error_rate"]) == (1, 1, 1.0)


def test_a_429_is_retried_honouring_retry_after(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Fail(429, "slow down", retry_after=0), Text("done"))

    status, answer = api("LlmChatFunction", user, body={"messages": MESSAGES})

    assert (status, answer["content"]) == (200, "done")
    assert len(openai_compatible.script.received) == 2


def test_a_providers_retry_hint_reaches_the_caller_in_whole_seconds(
    api, make_user_id, openai_compatible, token_for
):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    # Longer than the call's deadline: no retry, the hint goes back to the caller, rounded up.
    openai_compatible.script.then(Fail(429, "slow down", retry_after="90.2"))

    status, answer, headers = request("LlmChatFunction", token_for(user), body={"messages": MESSAGES})

    assert (status, answer["error"]["code"]) == (502, "llm_rate_limited")
    assert headers["Retry-After"] == "91"


def test_without_a_key_the_answer_names_the_provider(api, make_user_id):
    status, answer = api(
        "LlmChatFunction",
        make_user_id(),
        body={"model": "anthropic/claude-haiku-4-5-20251001", "messages": MESSAGES},
    )
    assert status == 422
    assert answer["error"]["code"] == "llm_key_missing" and "anthropic" in answer["error"]["message"]


def test_without_a_model_or_default_the_answer_says_so(api, make_user_id):
    status, answer = api("LlmChatFunction", make_user_id(), body={"messages": MESSAGES})
    assert (status, answer["error"]["code"]) == (422, "model_required")


def test_an_unknown_model_is_422(api, make_user_id):
    status, answer = api(
        "LlmChatFunction", make_user_id(), body={"model": "openai/gpt-0", "messages": MESSAGES}
    )
    assert (status, answer["error"]["code"]) == (422, "model_not_found")


def test_bad_messages_are_422(api, make_user_id):
    status, answer = api(
        "LlmChatFunction", make_user_id(), body={"messages": [{"role": "wizard", "content": "x"}]}
    )
    assert status == 422 and answer["error"]["details"][0]["field"].startswith("body.messages")


def test_another_users_metrics_are_invisible(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Text("hi"))
    api("LlmChatFunction", user, body={"messages": MESSAGES})

    assert api("LlmMetricsFunction", make_user_id("other"))[1]["models"] == []


def test_the_key_never_leaves(api, make_user_id, openai_compatible, capsys):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Fail(401, "bad key"))

    status, answer = api("LlmChatFunction", user, body={"messages": MESSAGES})
    _, preferences = api("LlmGetPreferencesFunction", user)

    assert (status, answer["error"]["code"]) == (502, "llm_auth_failed")
    assert KEY not in str(answer) and KEY not in str(preferences)
    assert KEY not in capsys.readouterr().out


def test_the_comparison_reads_the_refreshed_summary(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Text("a", output_tokens=1000))
    api("LlmChatFunction", user, body={"messages": MESSAGES})
    invoke("RefreshSummariesFunction", sample_event("RefreshSummariesFunction"))

    status, comparison = api("LlmComparisonFunction", user)

    assert status == 200
    (row,) = comparison["models"]
    assert (
        row["model"] == "openai/gpt-5.4-mini" and row["calls"] == 1 and row["cost_per_1k_output_tokens"] > 0
    )


def test_any_model_of_the_users_own_endpoint_is_served_at_zero_cost(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible, model="openai/llama3.2:latest")
    openai_compatible.script.then(Text("local hi", input_tokens=100, output_tokens=10))

    status, answer = api("LlmChatFunction", user, body={"messages": MESSAGES})
    _, report = api("LlmMetricsFunction", user, query={"window_hours": "1"})

    assert status == 200, answer
    assert (answer["model"], answer["content"], answer["cost_usd"]) == (
        "openai/llama3.2:latest",
        "local hi",
        0,
    )
    assert openai_compatible.script.received[-1].body["model"] == "llama3.2:latest"
    (row,) = report["models"]
    assert (row["model"], row["calls"], row["input_tokens"], row["cost_usd"]) == (
        "openai/llama3.2:latest",
        1,
        100,
        0,
    )


def test_a_model_outside_the_registry_needs_the_users_own_endpoint(api, make_user_id):
    user = make_user_id()

    chat_status, chat = api("LlmChatFunction", user, body={"model": "openai/llama3.2", "messages": MESSAGES})
    default_status, default = api(
        "LlmPutPreferencesFunction", user, body={"default_model": "openai/llama3.2"}
    )
    other_status, other = api(
        "LlmChatFunction", user, body={"model": "anthropic/my-own-model", "messages": MESSAGES}
    )

    assert (chat_status, chat["error"]["code"]) == (422, "model_not_found")
    assert "base_url" in chat["error"]["message"]
    assert (default_status, default["error"]["code"]) == (422, "model_not_found")
    assert default["error"]["details"][0]["field"] == "default_model"
    assert (other_status, other["error"]["code"]) == (422, "model_not_found")

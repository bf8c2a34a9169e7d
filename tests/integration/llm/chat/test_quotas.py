"""Users who burn the service's LLM budget or hammer the chat route, and what each one sees.

The service's own key reaches "OpenAI" at the loopback server (the provider's default base URL
pointed there): a user without a key of their own is on the service's key and bound by its
daily quotas; the same user with their own key is not; the chat route's rate limit binds all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from auralink.auth import Identity
from auralink.llm import chat
from auralink.llm.chat_models import ChatRequest
from auralink.llm.providers import openai as openai_provider
from auralink.quotas.models import QuotaExceeded
from tests.fakes.openai_server import LlmServer, Text, openai_server
from tests.support import environment
from tests.support.clock import FakeClock
from tests.support.handlers import request

SERVICE_KEYS_SECRET_ID = "auralink/test/llm-service-keys-quotas"
SERVICE_KEY = "sk-service-quota-000000000000000000SERV"
OWN_KEY = "sk-own-quota-1111111111111111111111OWN"
MODEL = "openai/gpt-5.4-mini"
MESSAGES = [{"role": "user", "content": "Say hi"}]


@pytest.fixture(scope="module")
def any_key_server() -> Iterator[LlmServer]:
    """One loopback "OpenAI" for the service's key and the users' own: it takes any key."""
    with openai_server() as server:
        yield server


@pytest.fixture
def openai_compatible(any_key_server: LlmServer) -> Iterator[LlmServer]:
    any_key_server.script.reset()
    yield any_key_server


@pytest.fixture
def service_paid(
    llm: pytest.MonkeyPatch, openai_compatible: LlmServer
) -> Iterator[Callable[..., pytest.MonkeyPatch]]:
    """The service's OpenAI key, its calls reaching the loopback server; quotas set by the test."""
    boto3.client("secretsmanager").create_secret(
        Name=SERVICE_KEYS_SECRET_ID, SecretString=json.dumps({"openai": SERVICE_KEY})
    )
    llm.setenv("LLM_SERVICE_KEYS_SECRET_ID", SERVICE_KEYS_SECRET_ID)
    llm.setattr(openai_provider, "DEFAULT_BASE_URL", openai_compatible.base_url + "/v1")
    # A call that sets no max_tokens reserves the cap of any call: small here, as the budgets are.
    llm.setenv("LLM_MAX_TOKENS", "50")

    def configure(**quotas: str) -> pytest.MonkeyPatch:
        for name, value in quotas.items():
            llm.setenv(name, value)
        environment.forget_caches()
        return llm

    yield configure


Call = Callable[..., tuple[int, Any, dict[str, str]]]


@pytest.fixture
def chat_as(token_for: Callable[..., str]) -> Call:
    def call(user: str, body: dict[str, Any] | None = None) -> tuple[int, Any, dict[str, str]]:
        return request(
            "LlmChatFunction", token_for(user), body=body or {"model": MODEL, "messages": MESSAGES}
        )

    return call


@pytest.fixture
def usage_of(token_for: Callable[..., str]) -> Callable[[str], dict[str, Any]]:
    def read(user: str) -> dict[str, Any]:
        status, body, _ = request("UsageFunction", token_for(user))
        assert status == 200, body
        return {item["quota"]: item for item in body["quotas"]} | {"refusals": body["recent_refusals"]}

    return read


def keys_sent(server: LlmServer) -> list[str]:
    return [received.headers["authorization"].removeprefix("Bearer ") for received in server.script.received]


def test_a_user_burning_the_service_tokens_is_refused_while_others_and_their_own_key_are_not(
    service_paid, chat_as, usage_of, token_for, make_user_id, openai_compatible
):
    service_paid(QUOTA_LLM_TOKENS_PER_DAY="1000")
    mallory, bob = make_user_id("mallory"), make_user_id("bob")
    openai_compatible.script.then(Text("hi", input_tokens=600, output_tokens=390))

    # Given mallory has spent 990 of the day's 1000 service tokens,
    assert chat_as(mallory)[0] == 200
    # when she calls again, the call's input alone would pass the budget: refused before it goes out.
    status, body, headers = chat_as(mallory)

    assert (status, body["error"]["code"]) == (429, "quota_exceeded")
    details = body["error"]["details"]
    assert (details["quota"], details["limit"], details["used"]) == ("llm_tokens_per_day", 1000, 990)
    resets_at = datetime.fromisoformat(details["resets_at"])
    assert (resets_at.hour, resets_at.minute, resets_at.second) == (0, 0, 0)
    assert headers["Retry-After"] == str(details["retry_after_seconds"])
    assert keys_sent(openai_compatible) == [SERVICE_KEY]

    # Another user on the service's key is not held back by mallory's spending.
    openai_compatible.script.then(Text("hi bob", input_tokens=10, output_tokens=2))
    assert chat_as(bob)[0] == 200

    # Mallory with her own key pays for herself: the service's quota does not apply.
    status, body, _ = request(
        "LlmPutPreferencesFunction", token_for(mallory), body={"providers": {"openai": {"api_key": OWN_KEY}}}
    )
    assert status == 200, body
    openai_compatible.script.then(Text("hi again", input_tokens=5000, output_tokens=5000))
    assert chat_as(mallory)[0] == 200
    assert keys_sent(openai_compatible) == [SERVICE_KEY, SERVICE_KEY, OWN_KEY]

    # Her standing shows the service's tokens she used (not those of her own key) and the refusal.
    standing = usage_of(mallory)
    tokens = standing["llm_tokens_per_day"]
    assert (tokens["limit"], tokens["used"], tokens["remaining"]) == (1000, 990, 10)
    assert datetime.fromisoformat(tokens["resets_at"]) == resets_at
    assert [refusal["quota"] for refusal in standing["refusals"]] == ["llm_tokens_per_day"]
    # Bob sees his own usage only.
    assert usage_of(bob)["llm_tokens_per_day"]["used"] == 12
    assert usage_of(bob)["refusals"] == []


def test_a_calls_max_tokens_is_held_against_the_budget_before_it_goes_out(
    service_paid, chat_as, make_user_id, openai_compatible
):
    service_paid(QUOTA_LLM_TOKENS_PER_DAY="1000", LLM_MAX_TOKENS="4000")
    user = make_user_id()

    status, body, _ = chat_as(user, {"model": MODEL, "messages": MESSAGES, "max_tokens": 2000})

    assert (status, body["error"]["details"]["quota"]) == (429, "llm_tokens_per_day")
    assert openai_compatible.script.received == []
    # Refused calls hold nothing: a call that fits goes out.
    openai_compatible.script.then(Text("hi"))
    assert chat_as(user, {"model": MODEL, "messages": MESSAGES, "max_tokens": 500})[0] == 200


def test_the_days_cost_is_bounded_too(service_paid, chat_as, usage_of, make_user_id, openai_compatible):
    service_paid(QUOTA_LLM_COST_PER_DAY_USD="0.001")
    user = make_user_id()
    # gpt-5.4-mini costs $0.75 per million tokens in and $4.50 out: this call $0.0090075, counted
    # in whole micro-dollars rounded up.
    openai_compatible.script.then(Text("long", input_tokens=10, output_tokens=2000))

    assert chat_as(user)[0] == 200
    status, body, _ = chat_as(user)

    assert (status, body["error"]["code"]) == (429, "quota_exceeded")
    assert body["error"]["details"]["quota"] == "llm_cost_per_day_usd"
    assert body["error"]["details"]["limit"] == 0.001
    cost = usage_of(user)["llm_cost_per_day_usd"]
    assert (cost["limit"], cost["used"], cost["remaining"]) == (0.001, 0.009008, 0)


def test_the_daily_budget_starts_again_at_midnight_utc(service_paid, make_user_id, openai_compatible):
    service_paid(QUOTA_LLM_TOKENS_PER_DAY="100")
    identity = Identity(sub=make_user_id())
    clock = FakeClock(datetime(2031, 3, 4, 23, 59, 0, tzinfo=UTC))
    ask = ChatRequest.model_validate({"model": MODEL, "messages": MESSAGES})
    openai_compatible.script.then(Text("hi", input_tokens=60, output_tokens=40), Text("hi again"))

    chat.chat(identity, ask, remaining_ms=20_000, clock=clock)
    with pytest.raises(QuotaExceeded) as refused:
        chat.chat(identity, ask, remaining_ms=20_000, clock=clock)
    assert refused.value.retry_after_seconds == 60

    clock.advance(60)
    assert chat.chat(identity, ask, remaining_ms=20_000, clock=clock).content == "hi again"


def test_the_chat_route_is_rate_limited_per_user_whoever_pays(
    service_paid, chat_as, usage_of, token_for, make_user_id, openai_compatible
):
    service_paid(QUOTA_LLM_CHAT_PER_MINUTE="3")
    mallory, bob = make_user_id("mallory"), make_user_id("bob")
    status, body = request(
        "LlmPutPreferencesFunction", token_for(mallory), body={"providers": {"openai": {"api_key": OWN_KEY}}}
    )[:2]
    assert status == 200, body
    openai_compatible.script.then(*[Text("hi")] * 4)

    statuses = [chat_as(mallory)[0] for _ in range(3)]
    status, body, headers = chat_as(mallory)

    assert statuses == [200, 200, 200]
    assert (status, body["error"]["details"]["quota"]) == (429, "llm_chat_per_minute")
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert len(openai_compatible.script.received) == 3
    assert chat_as(bob)[0] == 200
    chats = usage_of(mallory)["llm_chat_per_minute"]
    assert (chats["limit"], chats["used"], chats["remaining"]) == (3, 3, 0)


def test_the_chat_rate_limit_window_is_a_clock_minute(service_paid, make_user_id, openai_compatible):
    service_paid(QUOTA_LLM_CHAT_PER_MINUTE="1")
    identity = Identity(sub=make_user_id())
    clock = FakeClock(datetime(2031, 3, 4, 10, 0, 45, tzinfo=UTC))
    ask = ChatRequest.model_validate({"model": MODEL, "messages": MESSAGES})
    openai_compatible.script.then(Text("one"), Text("two"))

    chat.chat(identity, ask, remaining_ms=20_000, clock=clock)
    with pytest.raises(QuotaExceeded) as refused:
        chat.chat(identity, ask, remaining_ms=20_000, clock=clock)
    assert refused.value.retry_after_seconds == 15

    clock.advance(15)
    assert chat.chat(identity, ask, remaining_ms=20_000, clock=clock).content == "two"


def test_a_new_users_standing_is_every_quota_unused(usage_of, llm, make_user_id):
    standing = usage_of(make_user_id())

    assert standing["refusals"] == []
    assert {name: item["used"] for name, item in standing.items() if name != "refusals"} == {
        "concurrent_runs": 0,
        "runs_per_hour": 0,
        "llm_tokens_per_day": 0,
        "llm_cost_per_day_usd": 0,
        "llm_chat_per_minute": 0,
    }
    assert standing["concurrent_runs"]["resets_at"] is None
    assert standing["concurrent_runs"]["limit"] == 5
    assert standing["llm_cost_per_day_usd"]["limit"] == 5

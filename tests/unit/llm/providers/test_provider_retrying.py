"""chat_with_retries: retryable failures repeat within the deadline, honouring Retry-After."""

from __future__ import annotations

import pytest

from auralink.config.models import RetryPolicy
from auralink.llm.chat_types import ChatMessage, ProviderReply, ProviderRequest, Usage
from auralink.llm.errors import AUTH_FAILED, RATE_LIMITED, SERVER_ERROR, LlmTimeout, LlmUpstreamError
from auralink.llm.providers.base import ProviderAccess
from auralink.llm.providers.retrying import chat_with_retries
from auralink.retry import Attempts
from tests.support.clock import FakeClock

POLICY = RetryPolicy(max_attempts=3, base_delay_ms=100, max_delay_ms=1_000)
REQUEST = ProviderRequest(model="m", messages=[ChatMessage(role="user", content="hi")])
REPLY = ProviderReply(content="ok", tool_calls=[], usage=Usage(input_tokens=1, output_tokens=1))


class NoJitter:
    def random(self) -> float:
        return 0.0


class Scripted:
    """A provider that raises the scripted errors, then answers; it records each deadline it got."""

    name = "Scripted"

    def __init__(self, clock: FakeClock, *errors: Exception, takes_s: float = 0.0) -> None:
        self.clock = clock
        self.errors = list(errors)
        self.takes_s = takes_s
        self.deadlines: list[float] = []

    def chat(self, request: ProviderRequest, *, access: ProviderAccess, deadline_s: float) -> ProviderReply:
        self.deadlines.append(deadline_s)
        self.clock.advance(self.takes_s)
        if self.errors:
            raise self.errors.pop(0)
        return REPLY


def rate_limited(after: int | None) -> LlmUpstreamError:
    return LlmUpstreamError("429", code=RATE_LIMITED, retryable=True, retry_after_seconds=after)


def test_a_429_is_retried_after_its_retry_after_and_each_attempt_gets_the_time_left() -> None:
    clock = FakeClock()
    provider = Scripted(clock, rate_limited(2), takes_s=1.0)

    reply, attempts = chat_with_retries(
        provider, REQUEST, ProviderAccess(), policy=POLICY, clock=clock, deadline_s=10, rng=NoJitter()
    )

    assert reply == REPLY
    assert attempts.count == 2
    assert clock.sleeps == [2.0]
    assert attempts.retried_codes == [RATE_LIMITED]
    assert provider.deadlines == [10.0, 7.0]


def test_a_retry_after_beyond_the_deadline_ends_the_retries_at_once() -> None:
    clock = FakeClock()
    provider = Scripted(clock, rate_limited(60))

    with pytest.raises(LlmUpstreamError) as caught:
        chat_with_retries(provider, REQUEST, ProviderAccess(), policy=POLICY, clock=clock, deadline_s=10)

    assert caught.value.code == RATE_LIMITED
    assert caught.value.retry_after_seconds == 60
    assert clock.sleeps == []


def test_server_errors_are_retried_up_to_the_policy_then_raised_with_the_attempts_recorded() -> None:
    clock = FakeClock()
    errors = [LlmUpstreamError("500", code=SERVER_ERROR, retryable=True) for _ in range(3)]
    provider = Scripted(clock, *errors)
    attempts = Attempts()

    with pytest.raises(LlmUpstreamError) as caught:
        chat_with_retries(
            provider, REQUEST, ProviderAccess(), policy=POLICY, clock=clock, deadline_s=10, attempts=attempts
        )

    assert caught.value.code == SERVER_ERROR
    assert attempts.count == 3
    assert attempts.retried_codes == [SERVER_ERROR, SERVER_ERROR]


def test_a_refused_key_is_not_retried() -> None:
    clock = FakeClock()
    provider = Scripted(clock, LlmUpstreamError("401", code=AUTH_FAILED))

    with pytest.raises(LlmUpstreamError):
        chat_with_retries(provider, REQUEST, ProviderAccess(), policy=POLICY, clock=clock, deadline_s=10)

    assert len(provider.deadlines) == 1


def test_no_time_left_is_a_timeout_without_a_call() -> None:
    clock = FakeClock()
    provider = Scripted(clock)

    with pytest.raises(LlmTimeout):
        chat_with_retries(provider, REQUEST, ProviderAccess(), policy=POLICY, clock=clock, deadline_s=0)

    assert provider.deadlines == []

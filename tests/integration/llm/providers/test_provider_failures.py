"""Failures over real HTTP: rate limits with Retry-After, 5xx, slowness, garbage, unreachable."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from auralink.config.models import RetryPolicy
from auralink.llm.chat_types import ChatMessage, ProviderRequest
from auralink.llm.errors import (
    AUTH_FAILED,
    BAD_REQUEST,
    PROTOCOL_ERROR,
    RATE_LIMITED,
    SERVER_ERROR,
    UNREACHABLE,
    LlmTimeout,
    LlmUpstreamError,
)
from auralink.llm.providers.base import ProviderAccess
from auralink.llm.providers.retrying import chat_with_retries
from tests.fakes.openai_server import Fail, Raw, Slow, Text, Trickle
from tests.integration.llm.providers.conftest import KEY, Target
from tests.support.clock import FakeClock

REQUEST = ProviderRequest(model="test-model", messages=[ChatMessage(role="user", content="hi")])
POLICY = RetryPolicy(max_attempts=3, base_delay_ms=100, max_delay_ms=1_000)
MARGIN_S = 0.4
# The slow answers take 5 s: a call that gives up on time ends long before, even on a loaded
# machine whose threads wait a second for a core.
GAVE_UP_BY_S = 2.5


class NoJitter:
    def random(self) -> float:
        return 0.0


def test_a_429_then_success_waits_as_long_as_retry_after_says(target: Target) -> None:
    clock = FakeClock()
    target.server.script.then(Fail(429, "Rate limit reached", retry_after="2"), Text("finally"))

    reply, attempts = chat_with_retries(
        target.provider(clock),
        REQUEST,
        target.access(),
        policy=POLICY,
        clock=clock,
        deadline_s=30,
        rng=NoJitter(),
    )

    assert reply.content == "finally"
    assert attempts.count == 2
    assert attempts.retried_codes == [RATE_LIMITED]
    assert clock.sleeps == [2.0]
    assert len(target.server.script.received) == 2


def test_a_real_short_retry_after_is_slept_for_real_in_whole_seconds(target: Target) -> None:
    # A hint is kept as whole seconds, rounded up (what a Retry-After header can say): 0.2 is 1.
    target.server.script.then(Fail(429, retry_after="0.2"), Text("ok"))
    started = time.monotonic()

    reply, _ = chat_with_retries(
        target.provider(), REQUEST, target.access(), policy=POLICY, deadline_s=5, rng=NoJitter()
    )

    assert reply.content == "ok"
    assert 1.0 <= time.monotonic() - started < 1.0 + MARGIN_S


def test_500s_are_retried_then_reported_as_llm_server_error(target: Target) -> None:
    clock = FakeClock()
    target.server.script.then(*(Fail(500, "internal") for _ in range(3)))

    with pytest.raises(LlmUpstreamError) as caught:
        chat_with_retries(
            target.provider(clock), REQUEST, target.access(), policy=POLICY, clock=clock, deadline_s=30
        )

    assert caught.value.code == SERVER_ERROR
    assert caught.value.details["http_status"] == 500
    assert len(target.server.script.received) == 3
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize("slow", [Slow(5, Text("too late")), Trickle(seconds_between=0.1, chunks=50)])
def test_an_answer_slower_than_the_deadline_is_a_timeout_on_time(
    target: Target, slow: Slow | Trickle
) -> None:
    target.server.script.then(slow)
    started = time.monotonic()

    with pytest.raises(LlmTimeout):
        target.provider().chat(REQUEST, access=target.access(), deadline_s=0.5)

    assert time.monotonic() - started < GAVE_UP_BY_S


@pytest.mark.parametrize(
    "garbage",
    [
        Raw(b"<html>502 Bad Gateway</html>", content_type="text/html"),
        Raw(b"[1, 2, 3]", content_type="application/json"),
        Raw(b'{"unexpected": "shape"}', content_type="application/json"),
        Raw(b"", status=307),
    ],
)
def test_garbage_is_llm_protocol_error(target: Target, garbage: Raw) -> None:
    target.server.script.then(garbage)

    with pytest.raises(LlmUpstreamError) as caught:
        target.provider().chat(REQUEST, access=target.access(), deadline_s=5)

    assert caught.value.code == PROTOCOL_ERROR
    assert caught.value.retryable is False


def test_a_bad_request_quotes_the_provider(target: Target) -> None:
    target.server.script.then(Fail(404, "The model test-model does not exist"))

    with pytest.raises(LlmUpstreamError) as caught:
        target.provider().chat(REQUEST, access=target.access(), deadline_s=5)

    assert caught.value.code == BAD_REQUEST
    assert "The model test-model does not exist" in caught.value.message


def test_a_closed_port_is_llm_unreachable_and_retryable(target: Target) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    suffix = "/v1" if target.label == "openai" else ""

    with pytest.raises(LlmUpstreamError) as caught:
        target.provider().chat(
            REQUEST,
            access=ProviderAccess(
                api_key=target.access().api_key, base_url=f"http://127.0.0.1:{port}{suffix}"
            ),
            deadline_s=2,
        )

    assert caught.value.code == UNREACHABLE
    assert caught.value.retryable is True


def test_the_key_never_reaches_logs_errors_or_reprs(
    target: Target, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    target.server.script.then(Text("fine"), Fail(400, f"bad request for {KEY}"), Fail(429), Raw(b"nonsense"))
    access = target.access()
    errors: list[Exception] = []

    target.provider().chat(REQUEST, access=access, deadline_s=5)
    for _ in range(3):
        with pytest.raises(LlmUpstreamError) as caught:
            target.provider().chat(REQUEST, access=access, deadline_s=5)
        errors.append(caught.value)
    with pytest.raises(LlmUpstreamError) as refused:
        target.provider().chat(REQUEST, access=target.access(KEY + "x"), deadline_s=5)
    errors.append(refused.value)

    assert [error.code for error in errors] == [BAD_REQUEST, RATE_LIMITED, PROTOCOL_ERROR, AUTH_FAILED]
    captured = capfd.readouterr()
    assert caplog.records, "debug logging of the HTTP stack was captured"
    for text in (caplog.text, captured.out, captured.err, repr(access), *(repr(e) for e in errors)):
        assert KEY not in text
    for error in errors:
        assert KEY not in str(error) + str(error.details)

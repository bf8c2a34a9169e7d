"""Retries of MCP calls: which failures repeat, the jittered delays, the deadline, the attempt count."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable

import pytest

from auralink.config.models import RetryPolicy
from auralink.errors import NotFound
from auralink.mcp import errors as mcp_errors
from auralink.mcp.errors import McpTimeout, McpUpstreamError
from auralink.retry import (
    Attempts,
    backoff_ceiling,
    call_with_retries,
    call_with_retries_async,
    is_retryable,
)
from tests.support.clock import FakeClock

POLICY = RetryPolicy(max_attempts=3, base_delay_ms=200, max_delay_ms=2_000)
FAR = 10_000.0  # a deadline that never matters


class ScriptedRng:
    """Returns the given values in order (then the last one forever)."""

    def __init__(self, values: Iterable[float]) -> None:
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


def unreachable() -> McpUpstreamError:
    return McpUpstreamError("cannot connect", code=mcp_errors.UNREACHABLE, retryable=True)


def overloaded() -> McpUpstreamError:
    return McpUpstreamError("503 from the server", code=mcp_errors.OVERLOADED, retryable=True)


class Script:
    """A call that fails with the given errors in turn, then returns "ok"; it may take time."""

    def __init__(self, *failures: Exception, clock: FakeClock | None = None, takes: float = 0.0) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.clock = clock
        self.takes = takes

    def __call__(self) -> str:
        self.calls += 1
        if self.clock is not None:
            self.clock.advance(self.takes)
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def run(
    fn: Callable[[], str],
    clock: FakeClock,
    *,
    policy: RetryPolicy = POLICY,
    rng: object = None,
    deadline: float = FAR,
    attempts: Attempts | None = None,
) -> str:
    return call_with_retries(
        fn,
        policy,
        clock=clock,
        rng=rng or ScriptedRng([0.5]),  # type: ignore[arg-type]
        deadline_at=clock.monotonic() + deadline,
        attempts=attempts,
    )


def test_a_first_success_makes_one_attempt_and_never_sleeps() -> None:
    clock, attempts = FakeClock(), Attempts()

    assert run(Script(), clock, attempts=attempts) == "ok"
    assert attempts == Attempts(count=1, delays=[], retried_codes=[])
    assert clock.sleeps == []


def test_retryable_failures_are_repeated_until_success() -> None:
    clock, attempts = FakeClock(), Attempts()
    script = Script(unreachable(), overloaded())

    assert run(script, clock, attempts=attempts) == "ok"
    assert script.calls == 3
    assert attempts.count == 3
    assert attempts.retried_codes == [mcp_errors.UNREACHABLE, mcp_errors.OVERLOADED]
    assert clock.sleeps == attempts.delays == [pytest.approx(0.1), pytest.approx(0.2)]


@pytest.mark.parametrize(
    "error",
    [
        McpUpstreamError("401", code=mcp_errors.AUTH_FAILED),
        McpUpstreamError("garbage", code=mcp_errors.PROTOCOL_ERROR),
        McpUpstreamError("JSON-RPC error", code=mcp_errors.SERVER_ERROR),
        McpUpstreamError("404", code=mcp_errors.HTTP_ERROR, retryable=False),
        McpTimeout("the server did not answer in time"),  # it may have acted
        NotFound("no such connection"),
        ValueError("a bug"),
    ],
    ids=lambda error: f"{type(error).__name__}:{getattr(error, 'code', '')}",
)
def test_a_failure_that_is_not_retry_safe_is_raised_at_once(error: Exception) -> None:
    clock, attempts = FakeClock(), Attempts()
    script = Script(error)

    with pytest.raises(type(error)) as raised:
        run(script, clock, attempts=attempts)
    assert raised.value is error
    assert script.calls == 1
    assert attempts.count == 1
    assert clock.sleeps == []


def test_a_retryable_timeout_is_repeated() -> None:
    # A timeout while connecting never reached the server: the client marks it retryable.
    clock = FakeClock()
    script = Script(McpTimeout("connect timed out", retryable=True))
    assert run(script, clock) == "ok"
    assert script.calls == 2


def test_only_a_true_retryable_flag_counts() -> None:
    assert is_retryable(unreachable())
    assert not is_retryable(McpTimeout("x"))
    assert not is_retryable(RuntimeError("x"))
    flagged = RuntimeError("x")
    flagged.retryable = "yes"  # type: ignore[attr-defined]
    assert not is_retryable(flagged)


def test_attempts_stop_at_max_attempts_and_the_last_error_is_raised() -> None:
    clock, attempts = FakeClock(), Attempts()
    errors = [unreachable() for _ in range(5)]
    script = Script(*errors)

    with pytest.raises(McpUpstreamError) as raised:
        run(script, clock, attempts=attempts)
    assert raised.value is errors[2]
    assert script.calls == 3
    assert attempts.count == 3
    assert len(clock.sleeps) == 2


def test_one_attempt_policy_never_retries() -> None:
    clock = FakeClock()
    script = Script(unreachable())
    with pytest.raises(McpUpstreamError):
        run(script, clock, policy=RetryPolicy(max_attempts=1))
    assert script.calls == 1


def test_the_ceiling_doubles_from_the_base_delay_up_to_the_maximum() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_ms=200, max_delay_ms=2_000)
    assert [backoff_ceiling(policy, retry) for retry in range(1, 8)] == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay_ms=200, max_delay_ms=2_000)
    highest, lowest = FakeClock(), FakeClock()

    with pytest.raises(McpUpstreamError):
        run(Script(*[unreachable() for _ in range(6)]), highest, policy=policy, rng=ScriptedRng([0.999999]))
    with pytest.raises(McpUpstreamError):
        run(Script(*[unreachable() for _ in range(6)]), lowest, policy=policy, rng=ScriptedRng([0.0]))

    assert highest.sleeps == pytest.approx([0.2, 0.4, 0.8, 1.6, 2.0], rel=1e-5)
    assert lowest.sleeps == [0.0, 0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("seed", range(20))
def test_random_delays_stay_within_their_ceilings(seed: int) -> None:
    policy = RetryPolicy(max_attempts=8, base_delay_ms=50, max_delay_ms=1_000)
    clock = FakeClock()

    with pytest.raises(McpUpstreamError):
        run(Script(*[overloaded() for _ in range(8)]), clock, policy=policy, rng=random.Random(seed))

    assert len(clock.sleeps) == 7
    for retry, delay in enumerate(clock.sleeps, start=1):
        assert 0.0 <= delay <= backoff_ceiling(policy, retry)


def test_delays_of_two_callers_differ() -> None:
    # The point of jitter: containers that failed together do not retry together.
    first, second = FakeClock(), FakeClock()
    for clock, seed in ((first, 1), (second, 2)):
        run(Script(unreachable(), unreachable()), clock, rng=random.Random(seed))
    assert first.sleeps != second.sleeps


def test_no_sleep_ends_at_or_past_the_deadline() -> None:
    clock, attempts = FakeClock(), Attempts()
    started = clock.monotonic()
    # Each attempt takes 0.3 s; delays are 0.1 then 0.2 s; the deadline is 0.65 s away.
    script = Script(unreachable(), unreachable(), unreachable(), clock=clock, takes=0.3)

    with pytest.raises(McpUpstreamError):
        run(script, clock, deadline=0.65, attempts=attempts)

    # Attempt 1 ends at 0.3, sleeps 0.1, attempt 2 ends at 0.7: a third would start past the deadline.
    assert script.calls == 2
    assert attempts.count == 2
    assert clock.sleeps == [pytest.approx(0.1)]
    assert clock.monotonic() - started == pytest.approx(0.7)


def test_a_delay_that_would_reach_the_deadline_is_not_taken() -> None:
    clock = FakeClock()
    script = Script(unreachable())

    with pytest.raises(McpUpstreamError):
        run(script, clock, deadline=0.1, rng=ScriptedRng([0.5]))  # the delay would be exactly 0.1 s

    assert clock.sleeps == []
    assert script.calls == 1


def test_the_first_attempt_runs_even_when_the_deadline_has_passed() -> None:
    # Bounding the attempt itself is the caller's job; the retry loop only refuses to wait.
    clock = FakeClock()
    assert run(Script(), clock, deadline=-1.0) == "ok"


def test_a_retry_after_hint_is_waited_for() -> None:
    clock, attempts = FakeClock(), Attempts()
    hinted = overloaded()
    hinted.retry_after_seconds = 1.5  # type: ignore[attr-defined]

    assert run(Script(hinted), clock, attempts=attempts) == "ok"
    assert clock.sleeps == [1.5]


def test_a_retry_after_hint_past_the_deadline_gives_up() -> None:
    clock = FakeClock()
    hinted = overloaded()
    hinted.retry_after_seconds = 30  # type: ignore[attr-defined]
    script = Script(hinted)

    with pytest.raises(McpUpstreamError):
        run(script, clock, deadline=5.0)
    assert script.calls == 1
    assert clock.sleeps == []


def test_the_async_variant_follows_the_same_rules() -> None:
    clock, attempts = FakeClock(), Attempts()
    script = Script(unreachable(), overloaded())

    async def call() -> str:
        await asyncio.sleep(0)
        return script()

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)

    result = asyncio.run(
        call_with_retries_async(
            call,
            POLICY,
            clock=clock,
            rng=ScriptedRng([0.5]),
            deadline_at=clock.monotonic() + FAR,
            attempts=attempts,
            sleep=sleep,
        )
    )

    assert result == "ok"
    assert attempts.count == 3
    assert clock.sleeps == [pytest.approx(0.1), pytest.approx(0.2)]


def test_the_async_variant_raises_what_may_not_be_retried() -> None:
    clock = FakeClock()
    error = McpUpstreamError("401", code=mcp_errors.AUTH_FAILED)

    async def call() -> str:
        raise error

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)

    with pytest.raises(McpUpstreamError) as raised:
        asyncio.run(
            call_with_retries_async(
                call,
                POLICY,
                clock=clock,
                rng=ScriptedRng([0.5]),
                deadline_at=clock.monotonic() + FAR,
                sleep=sleep,
            )
        )
    assert raised.value is error
    assert clock.sleeps == []

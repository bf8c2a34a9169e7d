"""Retries of outbound calls (MCP servers, LLM providers): only failures safe to repeat, with jitter.

A failure is retried only when the raised error says ``retryable=True`` (for MCP see
`auralink.mcp.errors`: the server was never reached, or it said it is overloaded), so a tool
that may have acted is never called twice. The delay before retry ``n`` (1-based) is drawn
uniformly from ``[0, min(max_delay_ms, base_delay_ms * 2**(n-1))]`` ("full jitter"), which
spreads the retries of many containers instead of synchronising them. An error that carries
``retry_after_seconds`` (a server's Retry-After) waits at least that long.

The call never sleeps past ``deadline_at`` (a `Clock.monotonic` value): when the next delay
would end at or after it, the last error is raised at once. The first attempt always runs; the
function itself must bound each attempt by the remaining time.

`Attempts` records what happened, for the operation log, whether the call succeeded or not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from auralink.clock import Clock
from auralink.config.models import RetryPolicy


class Rng(Protocol):
    """The part of `random.Random` that the backoff uses."""

    def random(self) -> float: ...


@dataclass
class Attempts:
    """How a call went: attempts made, seconds slept before each retry, codes of the retried errors."""

    count: int = 0
    delays: list[float] = field(default_factory=list)
    retried_codes: list[str] = field(default_factory=list)


def is_retryable(error: BaseException) -> bool:
    return getattr(error, "retryable", False) is True


def backoff_ceiling(policy: RetryPolicy, retry: int) -> float:
    """The longest delay (seconds) before retry number ``retry`` (1 for the first retry)."""
    return float(min(policy.max_delay_ms, policy.base_delay_ms * 2 ** (retry - 1))) / 1000


class _Plan:
    def __init__(
        self, policy: RetryPolicy, clock: Clock, rng: Rng, deadline_at: float, attempts: Attempts | None
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.rng = rng
        self.deadline_at = deadline_at
        self.attempts = attempts if attempts is not None else Attempts()

    def start(self, attempt: int) -> None:
        self.attempts.count = attempt

    def delay_after(self, error: Exception, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when ``error`` must be raised."""
        if attempt >= self.policy.max_attempts or not is_retryable(error):
            return None
        delay = self.rng.random() * backoff_ceiling(self.policy, attempt)
        hinted = getattr(error, "retry_after_seconds", None)
        if isinstance(hinted, int | float) and hinted > delay:
            delay = float(hinted)
        if self.clock.monotonic() + delay >= self.deadline_at:
            return None
        self.attempts.delays.append(delay)
        self.attempts.retried_codes.append(str(getattr(error, "code", type(error).__name__)))
        return delay


def call_with_retries[T](
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    clock: Clock,
    rng: Rng,
    deadline_at: float,
    attempts: Attempts | None = None,
) -> T:
    """``fn()``, repeated after retryable failures as the policy allows; the last error otherwise."""
    plan = _Plan(policy, clock, rng, deadline_at, attempts)
    attempt = 1
    while True:
        plan.start(attempt)
        try:
            return fn()
        except Exception as error:
            delay = plan.delay_after(error, attempt)
            if delay is None:
                raise
        clock.sleep(delay)
        attempt += 1


async def call_with_retries_async[T](
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    clock: Clock,
    rng: Rng,
    deadline_at: float,
    attempts: Attempts | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`call_with_retries` for coroutines; waits with ``sleep`` so that the event loop keeps running."""
    plan = _Plan(policy, clock, rng, deadline_at, attempts)
    attempt = 1
    while True:
        plan.start(attempt)
        try:
            return await fn()
        except Exception as error:
            delay = plan.delay_after(error, attempt)
            if delay is None:
                raise
        await sleep(delay)
        attempt += 1

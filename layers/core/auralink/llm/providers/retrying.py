"""A provider call repeated after retryable failures (429, 5xx, unreachable) within one deadline."""

from __future__ import annotations

import random

from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.config.models import RetryPolicy
from auralink.llm.chat_types import ProviderReply, ProviderRequest
from auralink.llm.errors import LlmTimeout
from auralink.llm.providers.base import Provider, ProviderAccess
from auralink.retry import Attempts, Rng, call_with_retries


def chat_with_retries(
    provider: Provider,
    request: ProviderRequest,
    access: ProviderAccess,
    *,
    policy: RetryPolicy,
    clock: Clock = SYSTEM_CLOCK,
    deadline_s: float,
    rng: Rng | None = None,
    attempts: Attempts | None = None,
) -> tuple[ProviderReply, Attempts]:
    """The reply and how it went. Each attempt gets the time left until the deadline, and a
    Retry-After longer than that time ends the retries. Pass ``attempts`` to learn how a call
    that raised went (for its metrics row)."""
    deadline_at = clock.monotonic() + deadline_s
    record = attempts if attempts is not None else Attempts()

    def attempt() -> ProviderReply:
        remaining = deadline_at - clock.monotonic()
        if remaining <= 0:
            raise LlmTimeout(f"No time was left to call {getattr(provider, 'name', 'the provider')}")
        return provider.chat(request, access=access, deadline_s=remaining)

    reply = call_with_retries(
        attempt,
        policy,
        clock=clock,
        rng=rng if rng is not None else random.Random(),  # noqa: S311  # jitter, not cryptography
        deadline_at=deadline_at,
        attempts=record,
    )
    return reply, record

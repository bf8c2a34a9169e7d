"""One model call on a user's behalf: model and key resolution, retries, cost, and its metrics row.

The chat endpoint and the agent frameworks' model adapters all come through here, so every call
is priced and recorded the same way whoever makes it. The model comes from the caller or the
user's default; the key from the user's preferences or the service's secret; the provider's
adapter does one call, repeated only after failures that are safe to repeat (429 honouring
Retry-After, 5xx, unreachable) within one deadline. Every call, failed ones too, is a metrics row.
A call the service pays for is bounded by the user's daily LLM quotas (`auralink.quotas`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from auralink import tracing
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.config.models import RetryPolicy
from auralink.errors import DomainError, ServiceUnavailable, ValidationFailed
from auralink.llm import metrics, preferences, registry
from auralink.llm.chat_types import ChatMessage, ProviderReply, ProviderRequest, ToolSpec
from auralink.llm.providers.base import ProviderAccess
from auralink.llm.providers.catalog import adapter_for
from auralink.llm.providers.retrying import chat_with_retries
from auralink.observability import logger
from auralink.quotas import service as quotas
from auralink.retry import Attempts
from auralink.settings import get_settings

# Providers' own limits are generous; this bounds what one call (retries included) may spend.
TIMEOUT_S = 60.0
RETRIES = RetryPolicy(max_attempts=3, base_delay_ms=500, max_delay_ms=8_000)
# Characters per token, to bound a call's input before its tokenizer has counted it: 4 is the
# common rule for English; JSON punctuation makes the estimate larger rather than smaller.
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Completion:
    model: registry.ModelEntry
    reply: ProviderReply
    cost_usd: Decimal
    latency_ms: int


def model_for(user_id: str, requested: str | None) -> registry.ModelEntry:
    """The requested model, else the user's default; a clear 422 when neither is set."""
    return models_for(user_id, [requested])[requested]


def models_for(user_id: str, requested: Iterable[str | None]) -> dict[str | None, registry.ModelEntry]:
    """`model_for` of each of ``requested`` (None: the user's default), each one looked up once."""
    wanted = list(dict.fromkeys(requested))
    default = preferences.default_model(user_id) if not all(wanted) else None
    resolved: dict[str, registry.ModelEntry] = {}
    found: dict[str | None, registry.ModelEntry] = {}
    for model_id in wanted:
        chosen = model_id or default
        if chosen is None:
            raise ValidationFailed(
                "No model named and no default model set (PUT /api/v1/llm/preferences)",
                code="model_required",
                details=[{"field": "body.model", "message": "required when no default model is set"}],
            )
        if chosen not in resolved:
            resolved[chosen] = preferences.resolve_model(user_id, chosen)
        found[model_id] = resolved[chosen]
    return found


def check_max_tokens(max_tokens: int | None, *, field: str = "body.max_tokens") -> None:
    """A 422 naming the cap when ``max_tokens`` asks for more than one call may (LLM_MAX_TOKENS)."""
    cap = get_settings().llm_max_tokens
    if max_tokens is not None and max_tokens > cap:
        message = f"max_tokens may be at most {cap}"
        raise ValidationFailed(
            message, code="max_tokens_too_large", details=[{"field": field, "message": message}]
        )


def complete(
    user_id: str,
    model: registry.ModelEntry,
    messages: Sequence[ChatMessage],
    *,
    tools: Sequence[ToolSpec] = (),
    temperature: float | None = None,
    max_tokens: int | None = None,
    stop: Sequence[str] = (),
    deadline_s: float,
    run_id: UUID | str | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Completion:
    """Call ``model`` for ``user_id`` within ``deadline_s`` seconds and record the call."""
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": model.provider,
        # A model outside the registry is named by its caller: not an attribute.
        "gen_ai.request.model": model.name if model.listed else "unlisted",
        "run.id": None if run_id is None else str(run_id),
    }
    with tracing.span(
        f"llm chat {model.provider}", kind=tracing.SpanKind.CLIENT, attributes=attributes
    ) as span:
        completion = _complete(
            user_id,
            model,
            messages,
            tools=tools,
            temperature=temperature,
            max_tokens=max_tokens,
            stop=stop,
            deadline_s=deadline_s,
            run_id=run_id,
            clock=clock,
        )
        usage = completion.reply.usage
        tracing.set_attributes(
            span,
            {
                "gen_ai.usage.input_tokens": usage.input_tokens,
                "gen_ai.usage.output_tokens": usage.output_tokens,
                "gen_ai.usage.cost_usd": float(completion.cost_usd),
            },
        )
        return completion


def _complete(
    user_id: str,
    model: registry.ModelEntry,
    messages: Sequence[ChatMessage],
    *,
    tools: Sequence[ToolSpec],
    temperature: float | None,
    max_tokens: int | None,
    stop: Sequence[str],
    deadline_s: float,
    run_id: UUID | str | None,
    clock: Clock,
) -> Completion:
    if tools and not model.supports_tools:
        raise ValidationFailed(f"{model.id} does not support tools", code="model_without_tools")
    # Every model call, whoever makes it (a run's node, a framework's adapter), meets the cap.
    check_max_tokens(max_tokens)
    request = ProviderRequest(
        model=model.name,
        messages=list(messages),
        tools=list(tools),
        temperature=temperature,
        max_tokens=max_tokens,
        stop=list(stop),
    )
    deadline_s = min(TIMEOUT_S, deadline_s)
    run = UUID(str(run_id)) if run_id is not None else None
    attempts = Attempts()
    started = time.perf_counter()
    try:
        if deadline_s <= 0:
            # The invocation's own time ran out (a slow start, earlier work): not the caller's fault.
            raise ServiceUnavailable("Not enough time left for the call", code="deadline_exhausted")
        # Inside the try: a call that has no key to go out with, or that the user's quota
        # refuses, is a failed call, recorded as such.
        access = preferences.resolve_access(user_id, model.provider)
        reply = _call(user_id, model, request, access, deadline_s=deadline_s, clock=clock, attempts=attempts)
    except DomainError as exc:
        metrics.record(
            metrics.CallRecord(
                user_id=user_id,
                provider=model.provider,
                model=model.name,
                latency_ms=_elapsed_ms(started),
                status="error",
                listed=model.listed,
                error_code=exc.code,
                run_id=run,
            )
        )
        logger.warning(
            "llm call failed",
            extra={"model": model.id, "error_code": exc.code, "attempts": attempts.count},
        )
        raise
    latency_ms = _elapsed_ms(started)
    cost = registry.cost_usd(model, reply.usage.input_tokens, reply.usage.output_tokens)
    metrics.record(
        metrics.CallRecord(
            user_id=user_id,
            provider=model.provider,
            model=model.name,
            latency_ms=latency_ms,
            status="success",
            listed=model.listed,
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
            cost_usd=cost,
            run_id=run,
        )
    )
    return Completion(model=model, reply=reply, cost_usd=cost, latency_ms=latency_ms)


def _call(
    user_id: str,
    model: registry.ModelEntry,
    request: ProviderRequest,
    access: ProviderAccess,
    *,
    deadline_s: float,
    clock: Clock,
    attempts: Attempts,
) -> ProviderReply:
    """The provider's reply; a call the service pays for holds a bound of its spending against
    the user's daily quotas first, and settles to what it spent (nothing, if it failed)."""
    reservation = None
    if access.service_pays:
        tokens, cost = _bound(model, request)
        reservation = quotas.reserve_llm(user_id, tokens=tokens, cost_usd=cost, now=clock.now())
    spent_tokens, spent_cost = 0, Decimal(0)
    try:
        reply, _ = chat_with_retries(
            adapter_for(model.api_style),
            request,
            access,
            policy=RETRIES,
            clock=clock,
            deadline_s=deadline_s,
            attempts=attempts,
        )
        spent_tokens = reply.usage.input_tokens + reply.usage.output_tokens
        spent_cost = registry.cost_usd(model, reply.usage.input_tokens, reply.usage.output_tokens)
    finally:
        if reservation is not None:
            quotas.settle_llm(reservation, tokens=spent_tokens, cost_usd=spent_cost)
    return reply


def _bound(model: registry.ModelEntry, request: ProviderRequest) -> tuple[int, Decimal]:
    """What a call may spend, in tokens and dollars: its input, estimated from its text, and its
    ``max_tokens`` of output, or the cap of any call (LLM_MAX_TOKENS) when it sets none."""
    text = request.model_dump_json(include={"messages", "tools"})
    input_tokens = math.ceil(len(text) / _CHARS_PER_TOKEN)
    output_tokens = request.max_tokens or get_settings().llm_max_tokens
    return input_tokens + output_tokens, registry.cost_usd(model, input_tokens, output_tokens)


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)

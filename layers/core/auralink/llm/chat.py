"""A chat with a model of the registry, on the caller's key (or the service's), measured and priced.

The model comes from the request or the caller's default; the key from the caller's preferences
or the service's secret; the provider's adapter does one call, repeated only after failures
that are safe to repeat (429 honouring Retry-After, 5xx, unreachable) within one deadline
shorter than the function's remaining time. Every call, failed ones too, is a metrics row.
"""

from __future__ import annotations

import time
from uuid import UUID

from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.config.models import RetryPolicy
from auralink.errors import DomainError, ValidationFailed
from auralink.llm import metrics, preferences, registry
from auralink.llm.chat_models import ChatRequest, ChatResponse
from auralink.llm.chat_types import ProviderRequest
from auralink.llm.providers.catalog import adapter_for
from auralink.llm.providers.retrying import chat_with_retries
from auralink.observability import logger
from auralink.retry import Attempts

# Providers' own limits are generous; these bound what one API request may spend.
TIMEOUT_S = 60.0
SAFETY_MARGIN_S = 1.5
RETRIES = RetryPolicy(max_attempts=3, base_delay_ms=500, max_delay_ms=8_000)


def _model_id(identity: Identity, requested: str | None) -> str:
    model_id = requested or preferences.default_model(identity.sub)
    if model_id is None:
        raise ValidationFailed(
            "No model named and no default model set (PUT /api/v1/llm/preferences)",
            code="model_required",
            details=[{"field": "body.model", "message": "required when no default model is set"}],
        )
    return model_id


def chat(
    identity: Identity,
    request: ChatRequest,
    *,
    remaining_ms: int,
    run_id: UUID | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> ChatResponse:
    model = registry.resolve_model(_model_id(identity, request.model))
    if request.tools and not model.supports_tools:
        raise ValidationFailed(f"{model.id} does not support tools", code="model_without_tools")
    access = preferences.resolve_access(identity.sub, model.provider)
    provider_request = ProviderRequest(
        model=model.name,
        messages=request.messages,
        tools=request.tools,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
    )
    deadline_s = min(TIMEOUT_S, remaining_ms / 1000 - SAFETY_MARGIN_S)
    attempts = Attempts()
    started = time.perf_counter()
    try:
        if deadline_s <= 0:
            raise ValidationFailed("Not enough time left for the call", code="deadline_exhausted")
        reply, _ = chat_with_retries(
            adapter_for(model.api_style),
            provider_request,
            access,
            policy=RETRIES,
            clock=clock,
            deadline_s=deadline_s,
            attempts=attempts,
        )
    except DomainError as exc:
        latency_ms = round((time.perf_counter() - started) * 1000)
        metrics.record(
            metrics.CallRecord(
                user_id=identity.sub,
                provider=model.provider,
                model=model.name,
                latency_ms=latency_ms,
                status="error",
                error_code=exc.code,
                run_id=run_id,
            )
        )
        logger.warning(
            "llm call failed",
            extra={"model": model.id, "error_code": exc.code, "attempts": attempts.count},
        )
        raise
    latency_ms = round((time.perf_counter() - started) * 1000)
    cost = registry.cost_usd(model, reply.usage.input_tokens, reply.usage.output_tokens)
    metrics.record(
        metrics.CallRecord(
            user_id=identity.sub,
            provider=model.provider,
            model=model.name,
            latency_ms=latency_ms,
            status="success",
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
            cost_usd=cost,
            run_id=run_id,
        )
    )
    return ChatResponse(
        model=model.id,
        content=reply.content,
        tool_calls=reply.tool_calls,
        usage=reply.usage,
        cost_usd=float(cost),
        latency_ms=latency_ms,
        finish_reason=reply.finish_reason,
    )

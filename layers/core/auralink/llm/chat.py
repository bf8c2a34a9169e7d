"""`POST /api/v1/llm/chat`: one call through the gateway, on the caller's key (or the service's).

Each request counts against the caller's chat calls per minute first (429 ``quota_exceeded``).
"""

from __future__ import annotations

from uuid import UUID

from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.llm import gateway
from auralink.llm.chat_models import ChatRequest, ChatResponse
from auralink.quotas import service as quotas

# Time kept back from the function's remaining time to record the call and answer.
SAFETY_MARGIN_S = 1.5


def chat(
    identity: Identity,
    request: ChatRequest,
    *,
    remaining_ms: int,
    run_id: UUID | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> ChatResponse:
    # A request that asks for too much is refused before it counts against the route's rate limit.
    gateway.check_max_tokens(request.max_tokens)
    # Counted whoever pays: the route's rate limit guards the service, not only its keys.
    quotas.admit_chat_call(identity.sub, now=clock.now())
    model = gateway.model_for(identity.sub, request.model)
    completion = gateway.complete(
        identity.sub,
        model,
        request.messages,
        tools=request.tools,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        deadline_s=remaining_ms / 1000 - SAFETY_MARGIN_S,
        run_id=run_id,
        clock=clock,
    )
    reply = completion.reply
    return ChatResponse(
        model=model.id,
        content=reply.content,
        tool_calls=reply.tool_calls,
        usage=reply.usage,
        cost_usd=float(completion.cost_usd),
        latency_ms=completion.latency_ms,
        finish_reason=reply.finish_reason,
    )

"""The chat routes' one call through the gateway, on the caller's key (or the service's):
`POST /api/v1/llm/chat` and the OpenAI-compatible `POST .../openai/v1/chat/completions`.

Each request counts against the caller's chat calls per minute first (429 ``quota_exceeded``).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.llm import gateway
from auralink.llm.chat_models import ChatRequest, ChatResponse
from auralink.llm.chat_types import ChatMessage, ToolSpec
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
    completion = call(
        identity,
        request.model,
        request.messages,
        tools=request.tools,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        stop=request.stop,
        remaining_ms=remaining_ms,
        run_id=run_id,
        clock=clock,
    )
    reply = completion.reply
    return ChatResponse(
        model=completion.model.id,
        content=reply.content,
        tool_calls=reply.tool_calls,
        usage=reply.usage,
        cost_usd=float(completion.cost_usd),
        latency_ms=completion.latency_ms,
        finish_reason=reply.finish_reason,
    )


def call(
    identity: Identity,
    model_id: str | None,
    messages: Sequence[ChatMessage],
    *,
    tools: Sequence[ToolSpec] = (),
    temperature: float | None = None,
    max_tokens: int | None = None,
    stop: Sequence[str] = (),
    remaining_ms: int,
    run_id: UUID | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> gateway.Completion:
    """One chat request's model call: admitted by the route's rate limit, then the gateway's."""
    # A request that asks for too much is refused before it counts against the route's rate limit.
    gateway.check_max_tokens(max_tokens)
    # Counted whoever pays: the route's rate limit guards the service, not only its keys. A run's
    # own calls (a crew's, with its run token) are not a person's chat: they are bounded as every
    # run's model calls are, by the run's limits and the daily quotas.
    if identity.run_id is None:
        quotas.admit_chat_call(identity.sub, now=clock.now())
    model = gateway.model_for(identity.sub, model_id)
    return gateway.complete(
        identity.sub,
        model,
        messages,
        tools=tools,
        temperature=temperature,
        max_tokens=max_tokens,
        stop=stop,
        deadline_s=remaining_ms / 1000 - SAFETY_MARGIN_S,
        run_id=run_id,
        clock=clock,
    )

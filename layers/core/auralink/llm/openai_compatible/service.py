"""The OpenAI-compatible endpoint's calls: a chat completion through the gateway, and the models
the caller can use.

A completion goes through `auralink.llm.chat.call`, the same path as `POST /api/v1/llm/chat`:
the route's rate limit, the user's key or the service's (then the daily quotas), the gateway's
retries within the function's time, and one metrics row per call, failed ones too.
"""

from __future__ import annotations

import uuid
from uuid import UUID

from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.errors import ValidationFailed
from auralink.llm import chat, preferences, registry
from auralink.llm.openai_compatible import translate, wire

# OpenAI's models carry the time the provider made them; the registry does not know it.
UNKNOWN_CREATED = 0


def create_completion(
    identity: Identity,
    request: wire.OpenAIChatCompletionRequest,
    *,
    remaining_ms: int,
    clock: Clock = SYSTEM_CLOCK,
) -> wire.OpenAIChatCompletion:
    # Everything about the request is checked before it counts against the route's rate limit.
    translate.refuse_what_cannot_be_honoured(request)
    tools = translate.tools(request)
    messages = translate.messages(request)
    max_tokens = translate.max_tokens(request)
    done = chat.call(
        identity,
        request.model,
        messages,
        tools=tools,
        temperature=request.temperature,
        max_tokens=max_tokens,
        stop=request.stop or (),
        remaining_ms=remaining_ms,
        # A crew's calls, made with its run's token, are recorded against the run.
        run_id=UUID(identity.run_id) if identity.run_id else None,
        clock=clock,
    )
    return translate.completion(
        done, completion_id=f"chatcmpl-{uuid.uuid4().hex}", created=int(clock.now().timestamp())
    )


def list_models(identity: Identity) -> wire.OpenAIModelList:
    """The registry's models whose provider the caller can reach (their key or endpoint, the
    service's key, or the deployment's AWS account), and the caller's default model when it is
    one of their own endpoint's, which the registry cannot list."""
    usable = preferences.usable_providers(identity.sub)
    models = [
        wire.OpenAIModel(id=model.id, created=UNKNOWN_CREATED, owned_by=model.provider)
        for model in registry.list_models()
        if model.provider in usable
    ]
    own = _endpoint_default_model(identity, usable, listed={model.id for model in models})
    return wire.OpenAIModelList(data=models if own is None else [*models, own])


def _endpoint_default_model(
    identity: Identity, usable: frozenset[str], *, listed: set[str]
) -> wire.OpenAIModel | None:
    default = preferences.default_model(identity.sub)
    if default is None or default in listed:
        return None
    try:
        model = preferences.resolve_model(identity.sub, default)
    except ValidationFailed:
        # A default that no longer resolves (its endpoint forgotten, its model switched off) is
        # not a model the caller can use; calling it says why.
        return None
    if model.listed or model.provider not in usable:
        return None
    return wire.OpenAIModel(id=model.id, created=UNKNOWN_CREATED, owned_by=model.provider)

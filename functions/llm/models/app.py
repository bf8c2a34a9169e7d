"""GET /api/v1/llm/models: the models that can be called, with their prices."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.http import lambda_handler_for, make_resolver
from auralink.llm import registry
from auralink.llm.api_models import PROVIDER_NAME, Capability, ModelList

app = make_resolver()


@app.get("/api/v1/llm/models", summary="The LLM models with their prices", tags=["llm"])
def list_models(
    provider: Annotated[str | None, Query(pattern=PROVIDER_NAME)] = None,
    capability: Annotated[Capability | None, Query()] = None,
) -> ModelList:
    return ModelList(models=registry.list_models(provider=provider, capability=capability))


lambda_handler = lambda_handler_for(app)

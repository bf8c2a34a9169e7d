"""GET /api/v1/llm/providers: the LLM providers of the registry."""

from __future__ import annotations

from auralink.http import lambda_handler_for, make_resolver
from auralink.llm import registry
from auralink.llm.api_models import ProviderList

app = make_resolver()


@app.get("/api/v1/llm/providers", summary="The LLM providers", tags=["llm"])
def list_providers() -> ProviderList:
    return ProviderList(providers=registry.list_providers())


lambda_handler = lambda_handler_for(app)

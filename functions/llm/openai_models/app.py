"""GET /api/v1/llm/openai/v1/models: the models the caller can use, in OpenAI's wire format."""

from __future__ import annotations

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.llm.openai_compatible import service
from auralink.llm.openai_compatible.errors import openai_error_body
from auralink.llm.openai_compatible.wire import OpenAIModelList

# A crew in its own image calls models with its run-scoped token.
app = make_resolver(run_tokens=True, error_format=openai_error_body)


@app.get(
    "/api/v1/llm/openai/v1/models",
    summary="The models the caller can use, as OpenAI lists them",
    tags=["llm"],
)
def list_models() -> OpenAIModelList:
    return service.list_models(current_identity(app))


lambda_handler = lambda_handler_for(app)

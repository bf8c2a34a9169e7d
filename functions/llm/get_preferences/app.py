"""GET /api/v1/llm/preferences: the caller's default model and provider settings (keys masked)."""

from __future__ import annotations

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.llm import preferences
from auralink.llm.api_models import Preferences

app = make_resolver()


@app.get("/api/v1/llm/preferences", summary="The caller's LLM preferences", tags=["llm"])
def get_preferences() -> Preferences:
    return preferences.get_preferences(current_identity(app))


lambda_handler = lambda_handler_for(app)

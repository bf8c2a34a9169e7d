"""PUT /api/v1/llm/preferences: set the default model and bring-your-own provider keys."""

from __future__ import annotations

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.llm import preferences
from auralink.llm.api_models import Preferences, PreferencesUpdate

app = make_resolver()


@app.put("/api/v1/llm/preferences", summary="Update the caller's LLM preferences", tags=["llm"])
def put_preferences(update: PreferencesUpdate) -> Preferences:
    return preferences.put_preferences(current_identity(app), update)


lambda_handler = lambda_handler_for(app)

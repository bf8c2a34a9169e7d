"""GET /api/v1/llm/comparison: the caller's models side by side (refreshed every 15 minutes)."""

from __future__ import annotations

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.llm import metrics
from auralink.llm.chat_models import Comparison

app = make_resolver()


@app.get("/api/v1/llm/comparison", summary="Compare the caller's models", tags=["llm"])
def compare() -> Comparison:
    return metrics.comparison(current_identity(app))


lambda_handler = lambda_handler_for(app)

"""GET /api/v1/llm/metrics: calls, error rate, latency, tokens and cost per model over a window."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.llm import metrics
from auralink.llm.chat_models import MetricsReport

app = make_resolver()


@app.get("/api/v1/llm/metrics", summary="LLM calls per model", tags=["llm"])
def llm_metrics(window_hours: Annotated[int, Query(ge=1, le=720)] = 24) -> MetricsReport:
    return metrics.report(current_identity(app), window_hours=window_hours)


lambda_handler = lambda_handler_for(app)

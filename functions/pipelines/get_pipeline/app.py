"""GET /api/v1/pipelines/{pipeline_id}: one of the caller's pipelines, with its definition."""

from __future__ import annotations

from uuid import UUID

from auralink.agents.pipelines import service
from auralink.agents.pipelines.models import Pipeline
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/pipelines/<pipeline_id>", summary="One pipeline", tags=["pipelines"])
def get_pipeline(pipeline_id: UUID) -> Pipeline:
    return service.get_pipeline(current_identity(app), pipeline_id)


lambda_handler = lambda_handler_for(app)

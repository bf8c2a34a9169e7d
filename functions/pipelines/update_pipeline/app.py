"""PUT /api/v1/pipelines/{pipeline_id}: replace a pipeline (checked like a new one); its version goes up."""

from __future__ import annotations

from uuid import UUID

from auralink.agents.pipelines import service
from auralink.agents.pipelines.models import Pipeline, PipelineRequest
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.put("/api/v1/pipelines/<pipeline_id>", summary="Replace a pipeline", tags=["pipelines"])
def update_pipeline(pipeline_id: UUID, request: PipelineRequest) -> Pipeline:
    return service.update_pipeline(current_identity(app), pipeline_id, request)


lambda_handler = lambda_handler_for(app)

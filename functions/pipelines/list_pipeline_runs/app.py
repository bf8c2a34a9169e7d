"""GET /api/v1/pipelines/{pipeline_id}/runs: the pipeline's runs, newest first, paged."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.agents.pipelines import executions
from auralink.agents.runs.api_models import RunPage
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/pipelines/<pipeline_id>/runs", summary="The runs of a pipeline", tags=["pipelines"])
def list_pipeline_runs(
    pipeline_id: UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> RunPage:
    return executions.pipeline_runs(current_identity(app), pipeline_id, limit=limit, cursor=cursor)


lambda_handler = lambda_handler_for(app)

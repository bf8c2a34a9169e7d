"""GET /api/v1/pipelines: the caller's pipelines, newest first, paged (without their definitions)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.agents.pipelines import service
from auralink.agents.pipelines.models import PipelinePage
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/pipelines", summary="The caller's pipelines", tags=["pipelines"])
def list_pipelines(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PipelinePage:
    return service.list_pipelines(current_identity(app), limit=limit, cursor=cursor)


lambda_handler = lambda_handler_for(app)

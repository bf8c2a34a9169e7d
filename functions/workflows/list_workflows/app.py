"""GET /api/v1/workflows: the caller's workflows, newest first, paged (without their definitions)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.agents.workflows import service
from auralink.agents.workflows.models import WorkflowPage
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/workflows", summary="The caller's workflows", tags=["workflows"])
def list_workflows(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> WorkflowPage:
    return service.list_workflows(current_identity(app), limit=limit, cursor=cursor)


lambda_handler = lambda_handler_for(app)

"""GET /api/v1/runs: the caller's runs, newest first, paged."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.agents.runs import control
from auralink.agents.runs.api_models import RunPage
from auralink.agents.runs.models import RunStatus
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/runs", summary="The caller's runs", tags=["runs"])
def list_runs(
    status: Annotated[RunStatus | None, Query()] = None,
    workflow_id: Annotated[UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> RunPage:
    return control.list_runs(
        current_identity(app), status=status, workflow_id=workflow_id, limit=limit, cursor=cursor
    )


lambda_handler = lambda_handler_for(app)

"""GET /api/v1/runs/{run_id}/logs: a pipeline run's logs as Prefect recorded them, oldest first."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.agents.pipelines import logs
from auralink.agents.pipelines.logs import RunLogPage
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get(
    "/api/v1/runs/<run_id>/logs", summary="A pipeline run's logs, as Prefect recorded them", tags=["runs"]
)
def list_run_logs(
    run_id: UUID,
    limit: Annotated[int, Query(ge=1, le=logs.MAX_LOGS_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> RunLogPage:
    return logs.run_logs(current_identity(app), run_id, limit=limit, offset=offset)


lambda_handler = lambda_handler_for(app)

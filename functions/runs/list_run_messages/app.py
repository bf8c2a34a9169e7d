"""GET /api/v1/runs/{run_id}/messages: a team run's messages after a sequence number, oldest first."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.agents.runs.api_models import MessagePage
from auralink.agents.teams import executions
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()
# Sequence numbers are Postgres bigints: no message comes after the largest.
LAST_SEQ = 2**63 - 1


@app.get("/api/v1/runs/<run_id>/messages", summary="A run's messages, for following it", tags=["runs"])
def list_run_messages(
    run_id: UUID,
    after: Annotated[
        int, Query(ge=0, le=LAST_SEQ, description="The last seq seen (the previous answer's next)")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=executions.MAX_MESSAGES_PAGE)] = 100,
) -> MessagePage:
    return executions.run_messages(current_identity(app), run_id, after=after, limit=limit)


lambda_handler = lambda_handler_for(app)

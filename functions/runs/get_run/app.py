"""GET /api/v1/runs/{run_id}: a run's status, progress, events, output, error and usage."""

from __future__ import annotations

from uuid import UUID

from auralink.agents.runs import control
from auralink.agents.runs.api_models import RunView
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/runs/<run_id>", summary="One run, for polling", tags=["runs"])
def get_run(run_id: UUID) -> RunView:
    return control.get_run(current_identity(app), run_id)


lambda_handler = lambda_handler_for(app)

"""GET /api/v1/workflows/{workflow_id}: one of the caller's workflows, with its definition."""

from __future__ import annotations

from uuid import UUID

from auralink.agents.workflows import service
from auralink.agents.workflows.models import Workflow
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.get("/api/v1/workflows/<workflow_id>", summary="One workflow", tags=["workflows"])
def get_workflow(workflow_id: UUID) -> Workflow:
    return service.get_workflow(current_identity(app), workflow_id)


lambda_handler = lambda_handler_for(app)

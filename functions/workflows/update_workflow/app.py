"""PUT /api/v1/workflows/{workflow_id}: replace a workflow (checked like a new one); its version goes up."""

from __future__ import annotations

from uuid import UUID

from auralink.agents.workflows import service
from auralink.agents.workflows.models import Workflow, WorkflowRequest
from auralink.http import current_identity, lambda_handler_for, make_resolver

app = make_resolver()


@app.put("/api/v1/workflows/<workflow_id>", summary="Replace a workflow", tags=["workflows"])
def update_workflow(workflow_id: UUID, request: WorkflowRequest) -> Workflow:
    return service.update_workflow(current_identity(app), workflow_id, request)


lambda_handler = lambda_handler_for(app)

"""The definition a run executes: the workflow as it was when the run took its first step.

A workflow edited while a run is under way (or waiting for a person for days) must not change
the graph under its checkpoint, so the first step copies the definition onto the run.
"""

from __future__ import annotations

from auralink.agents.langgraph.context import NodeFailed
from auralink.agents.runs import repository as runs
from auralink.agents.runs.models import Run
from auralink.agents.workflows import service as workflows
from auralink.agents.workflows.definition import WorkflowDefinition
from auralink.db import tenant_transaction


def pinned(run: Run) -> WorkflowDefinition:
    with tenant_transaction(run.user_id) as conn:
        stored = runs.pinned_definition(conn, run.run_id)
    if stored is not None:
        return WorkflowDefinition.model_validate(stored)
    if run.workflow_id is None:
        raise NodeFailed("workflow_not_found", "The workflow of this run was deleted before it started")
    definition, version = workflows.get_definition(run.user_id, str(run.workflow_id))
    with tenant_transaction(run.user_id) as conn:
        runs.pin_definition(conn, run.run_id, definition.model_dump(mode="json", by_alias=True), version)
    return definition

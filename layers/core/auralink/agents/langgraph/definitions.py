"""The definition a run executes: the workflow as it was when the run took its first step.

A workflow edited while a run is under way (or waiting for a person for days) must not change
the graph under its checkpoint, so the first step copies the definition onto the run.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from auralink.agents.langgraph.context import NodeFailed
from auralink.agents.runs.models import Run
from auralink.agents.workflows import service as workflows
from auralink.agents.workflows.definition import WorkflowDefinition
from auralink.db import tenant_transaction


def pinned(run: Run) -> WorkflowDefinition:
    with tenant_transaction(run.user_id) as conn:
        row = conn.execute(
            "SELECT definition FROM workflow_executions WHERE id = %s::uuid", (run.run_id,)
        ).fetchone()
    if row is not None and row["definition"] is not None:
        return WorkflowDefinition.model_validate(row["definition"])
    if run.workflow_id is None:
        raise NodeFailed("workflow_not_found", "The workflow of this run was deleted before it started")
    definition, version = workflows.get_definition(run.user_id, run.workflow_id)
    with tenant_transaction(run.user_id) as conn:
        conn.execute(
            "UPDATE workflow_executions SET definition = %s, workflow_version = %s"
            " WHERE id = %s::uuid AND definition IS NULL",
            (Jsonb(definition.model_dump(mode="json", by_alias=True)), version, run.run_id),
        )
    return definition

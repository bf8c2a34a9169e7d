"""A user's workflows: create and replace (validated first), read, list, delete.

Validation runs before the write's transaction opens: it reads the caller's MCP connections and
the model registry in transactions of its own, and a definition that fails them is never stored.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from auralink.agents.workflows import repository
from auralink.agents.workflows.definition import WorkflowDefinition
from auralink.agents.workflows.models import Workflow, WorkflowPage, WorkflowRequest, WorkflowSummary
from auralink.agents.workflows.validation import validate
from auralink.auth import Identity
from auralink.db import tenant_transaction
from auralink.errors import NotFound


def _stored(definition: WorkflowDefinition) -> dict[str, Any]:
    # The normalised form (defaults filled in, edges by their "from" alias) is what is kept.
    return definition.model_dump(mode="json", by_alias=True)


def _workflow(row: dict[str, Any]) -> Workflow:
    return Workflow(
        workflow_id=row["id"],
        name=row["name"],
        description=row["description"],
        definition=WorkflowDefinition.model_validate(row["definition"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def create_workflow(identity: Identity, request: WorkflowRequest) -> Workflow:
    definition = validate(identity, request.definition)
    with tenant_transaction(identity.sub) as conn:
        row = repository.insert(
            conn,
            user_id=identity.sub,
            name=request.name,
            description=request.description,
            definition=_stored(definition),
        )
    return _workflow(row)


def update_workflow(identity: Identity, workflow_id: UUID, request: WorkflowRequest) -> Workflow:
    definition = validate(identity, request.definition)
    with tenant_transaction(identity.sub) as conn:
        row = repository.replace(
            conn,
            workflow_id,
            name=request.name,
            description=request.description,
            definition=_stored(definition),
        )
    return _workflow(row)


def get_workflow(identity: Identity, workflow_id: UUID) -> Workflow:
    with tenant_transaction(identity.sub) as conn:
        return _workflow(repository.get(conn, workflow_id))


def list_workflows(identity: Identity, *, limit: int, cursor: str | None) -> WorkflowPage:
    with tenant_transaction(identity.sub) as conn:
        rows, next_cursor = repository.page(conn, limit=limit, cursor=cursor)
    return WorkflowPage(
        workflows=[
            WorkflowSummary(
                workflow_id=row["id"],
                name=row["name"],
                description=row["description"],
                version=row["version"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )


def delete_workflow(identity: Identity, workflow_id: UUID) -> None:
    with tenant_transaction(identity.sub) as conn:
        repository.delete(conn, workflow_id)


def get_definition(user_id: str, workflow_id: str) -> tuple[WorkflowDefinition, int]:
    """The stored definition and its version, for the run machinery (already validated when stored)."""
    try:
        parsed_id = UUID(workflow_id)
    except (ValueError, TypeError):
        raise NotFound("Workflow not found", code="workflow_not_found") from None
    with tenant_transaction(user_id) as conn:
        row = repository.get(conn, parsed_id)
    return WorkflowDefinition.model_validate(row["definition"]), int(row["version"])

"""A user's pipelines: create and replace (validated first), read, list, delete.

Validation runs before the write's transaction opens: it reads the caller's MCP connections,
workflows and teams and the model registry in transactions of its own, and a pipeline that fails
it is never stored.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from auralink.agents.pipelines import repository
from auralink.agents.pipelines.definition import PipelineDefinition
from auralink.agents.pipelines.models import Pipeline, PipelinePage, PipelineRequest, PipelineSummary
from auralink.agents.pipelines.validation import validate
from auralink.auth import Identity
from auralink.db import tenant_transaction


def _stored(definition: PipelineDefinition) -> dict[str, Any]:
    # The normalised form (every field present, defaults filled in) is what is kept.
    return definition.model_dump(mode="json")


def _summary(row: dict[str, Any]) -> PipelineSummary:
    return PipelineSummary(
        pipeline_id=row["id"],
        name=row["name"],
        description=row["description"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _pipeline(row: dict[str, Any]) -> Pipeline:
    return Pipeline(
        **dict(_summary(row)),
        parameters_schema=row["parameters_schema"],
        definition=PipelineDefinition.model_validate(row["definition"]),
    )


def create_pipeline(identity: Identity, request: PipelineRequest) -> Pipeline:
    definition = validate(identity, request.definition, request.parameters_schema)
    with tenant_transaction(identity.sub) as conn:
        row = repository.insert(
            conn,
            user_id=identity.sub,
            name=request.name,
            description=request.description,
            parameters_schema=request.parameters_schema,
            definition=_stored(definition),
        )
    return _pipeline(row)


def update_pipeline(identity: Identity, pipeline_id: UUID, request: PipelineRequest) -> Pipeline:
    definition = validate(identity, request.definition, request.parameters_schema)
    with tenant_transaction(identity.sub) as conn:
        row = repository.replace(
            conn,
            pipeline_id,
            name=request.name,
            description=request.description,
            parameters_schema=request.parameters_schema,
            definition=_stored(definition),
        )
    return _pipeline(row)


def get_pipeline(identity: Identity, pipeline_id: UUID) -> Pipeline:
    with tenant_transaction(identity.sub) as conn:
        return _pipeline(repository.get(conn, pipeline_id))


def list_pipelines(identity: Identity, *, limit: int, cursor: str | None) -> PipelinePage:
    with tenant_transaction(identity.sub) as conn:
        rows, next_cursor = repository.page(conn, limit=limit, cursor=cursor)
    return PipelinePage(pipelines=[_summary(row) for row in rows], next_cursor=next_cursor)


def delete_pipeline(identity: Identity, pipeline_id: UUID) -> None:
    with tenant_transaction(identity.sub) as conn:
        repository.delete(conn, pipeline_id)

"""Requests and answers of the workflows API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints

from auralink.agents.workflows.definition import WorkflowDefinition
from auralink.model import DeferredModel


class WorkflowRequest(DeferredModel):
    """The body of a create and of a replace."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: str = Field(default="", max_length=2000)
    # Checked by `validation.validate`, which names each problem's path (graph, tools, models).
    definition: dict[str, Any] = Field(
        description="The workflow's graph: entry, nodes (llm, agent, tool, condition, human) and edges;"
        " see docs/workflows.md"
    )


class WorkflowSummary(DeferredModel):
    workflow_id: UUID
    name: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime


class Workflow(WorkflowSummary):
    definition: WorkflowDefinition


class WorkflowPage(DeferredModel):
    workflows: list[WorkflowSummary]
    next_cursor: str | None

"""Requests and answers of the pipelines API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from auralink.agents.pipelines.definition import PipelineDefinition, bounded
from auralink.model import DeferredModel


class PipelineRequest(DeferredModel):
    """The body of a create and of a replace."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: str = Field(default="", max_length=2000)
    # Checked by `validation.validate` (valid JSON Schema, RE2 patterns, no remote $ref).
    parameters_schema: Annotated[dict[str, Any], AfterValidator(bounded)] | None = Field(
        default=None, description="The JSON Schema (draft 2020-12) that a run's parameters must satisfy"
    )
    # Checked by `validation.validate`, which names each problem's path (graph, texts, references).
    definition: dict[str, Any] = Field(
        description="The pipeline's steps (mcp_tool, tool, llm, workflow, team, map, condition) and"
        " its output; see docs/pipelines.md"
    )


class PipelineSummary(DeferredModel):
    pipeline_id: UUID
    name: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime


class Pipeline(PipelineSummary):
    parameters_schema: dict[str, Any] | None
    definition: PipelineDefinition


class PipelinePage(DeferredModel):
    pipelines: list[PipelineSummary]
    next_cursor: str | None

"""Requests and answers of the runs endpoints."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from auralink.agents.runs.models import RunError, RunStatus, WaitingFor

# What a run's input or an answer may weigh once serialised: runs carry them in every step.
MAX_INPUT_BYTES = 64 * 1024
# "<provider>/<model>", as the LLM registry names models.
MODEL_ID = r"^[a-z0-9][a-z0-9-]{0,62}/[A-Za-z0-9._:/-]{1,200}$"
# Printable ASCII without spaces at either end: what a client puts in the header.
IDEMPOTENCY_KEY = r"^[!-~]([ -~]*[!-~])?$"


def _bounded(value: Any) -> Any:
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    if size > MAX_INPUT_BYTES:
        raise ValueError(f"must be at most {MAX_INPUT_BYTES} bytes as JSON (it is {size})")
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExecuteRequest(_Input):
    input: dict[str, Any] = Field(
        default_factory=dict, description="The run's input: a JSON object the workflow reads"
    )
    model: str | None = Field(
        default=None,
        max_length=264,
        pattern=MODEL_ID,
        description="<provider>/<model> for the workflow's LLM nodes that name no model",
    )

    _input_size = field_validator("input")(_bounded)


class ResumeRequest(_Input):
    input: Any = Field(description="The answer to the run's waiting node: any JSON value")

    _input_size = field_validator("input")(_bounded)


class RunAccepted(BaseModel):
    run_id: UUID
    status: RunStatus


class RunProgress(BaseModel):
    """How far the run is: its units of work done (a workflow's nodes, else the run's steps), the
    node under way, and what a run that waits for a person asks (absent while it does not)."""

    steps_done: int
    current_node: str | None = None
    waiting_for: WaitingFor | None = Field(default=None, exclude_if=lambda value: value is None)


class RunUsage(BaseModel):
    """The run's LLM calls, summed from the per-call metrics."""

    llm_calls: int
    input_tokens: int
    output_tokens: int
    tokens: int
    cost_usd: float


class RunView(BaseModel):
    run_id: UUID
    workflow_id: UUID | None
    framework: str
    status: RunStatus
    cancel_requested: bool
    progress: RunProgress
    events: list[dict[str, Any]]
    output: Any
    error: RunError | None
    usage: RunUsage
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunSummary(BaseModel):
    run_id: UUID
    workflow_id: UUID | None
    framework: str
    status: RunStatus
    steps_done: int
    error: RunError | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunPage(BaseModel):
    runs: list[RunSummary]
    next_cursor: str | None

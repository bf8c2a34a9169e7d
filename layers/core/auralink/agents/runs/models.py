"""The run model shared by every framework."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING_FOR_INPUT = "waiting_for_input"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}


class RunError(BaseModel):
    code: str
    message: str


class Run(BaseModel):
    """A run as the executors see it.

    ``resume_input`` is the answer a person gave to a run that waited for input, until the next
    step consumes it (saving that step's outcome clears it). The answer may itself be JSON null:
    ``has_resume_input`` says whether there is one.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    user_id: str
    framework: str
    status: RunStatus
    input: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    progress: dict[str, Any] = Field(default_factory=dict)
    steps_done: int = 0
    workflow_id: str | None = None
    started_at: datetime | None = None
    resume_input: Any = None
    has_resume_input: bool = False


class StepOutcome(BaseModel):
    """What one step of an executor achieved; the run machinery persists it."""

    status: RunStatus
    progress: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)
    output: Any = None
    error: RunError | None = None


class StepCommand(BaseModel):
    """The state machine's input to one step."""

    model_config = ConfigDict(extra="forbid")

    run_id: UUID
    user_id: str = Field(min_length=1, max_length=256)
    action: str = Field(default="step", pattern="^(step|fail)$")
    error: dict[str, Any] | None = None


class StepReply(BaseModel):
    run_id: str
    status: RunStatus

"""The run model shared by every framework."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, Field

from auralink.model import DeferredModel


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


class RunError(DeferredModel):
    code: str
    message: str


class WaitingFor(DeferredModel):
    """What a run that waits for a person asks: the node, its prompt, and the JSON Schema the
    answer must satisfy (null: any JSON value)."""

    model_config = ConfigDict(extra="forbid")

    node: str
    prompt: str
    input_schema: dict[str, Any] | None = None


class Progress(DeferredModel):
    """What an executor reports of a run, shown to clients as the run's progress.

    ``steps_done`` counts the executor's own units of work (a workflow's nodes); None leaves the
    count to the run machinery, which counts its steps. Only the fields an executor sets are
    stored, so a report made in the middle of a step changes those and keeps the rest.
    """

    model_config = ConfigDict(extra="forbid")

    steps_done: int | None = Field(default=None, ge=0)
    current_node: str | None = None
    waiting_for: WaitingFor | None = None
    # A team run's messages so far and the member who spoke last (or speaks now).
    messages: int | None = Field(default=None, ge=0)
    current_speaker: str | None = None
    # A crew's tasks done of its total, and the task under way (its agent is current_speaker).
    tasks_done: int | None = Field(default=None, ge=0)
    tasks_total: int | None = Field(default=None, ge=0)
    current_task: str | None = None


class Run(DeferredModel):
    """A run as the executors see it.

    ``resume_input`` is the answer a person gave to a run that waited for input, until the next
    step consumes it (saving that step's outcome clears it). The answer may itself be JSON null:
    ``has_resume_input`` says whether there is one.
    """

    model_config = ConfigDict(frozen=True)

    run_id: UUID
    user_id: str
    kind: str = "workflow"
    framework: str
    status: RunStatus
    input: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    progress: Progress = Field(default_factory=Progress)
    steps_done: int = 0
    workflow_id: UUID | None = None
    team_id: UUID | None = None
    pipeline_id: UUID | None = None
    started_at: datetime | None = None
    resume_input: Any = None
    has_resume_input: bool = False


class StepOutcome(DeferredModel):
    """What one step of an executor achieved; the run machinery persists it."""

    status: RunStatus
    progress: Progress = Field(default_factory=Progress)
    events: list[dict[str, Any]] = Field(default_factory=list)
    output: Any = None
    error: RunError | None = None


class StepCommand(DeferredModel):
    """The state machine's input to one step."""

    model_config = ConfigDict(extra="forbid")

    run_id: UUID
    user_id: str = Field(min_length=1, max_length=256)
    action: str = Field(default="step", pattern="^(step|fail)$")
    error: dict[str, Any] | None = None
    # The execution's input (`auralink.agents.runs.starts`): read for its trace header only.
    execution: dict[str, Any] | None = None


def carried_trace(event: dict[str, Any]) -> str | None:
    """The run's trace header in a step's event: its execution's input, as
    `auralink.agents.runs.starts` wrote it."""
    execution = event.get("execution")
    trace = execution.get("trace") if isinstance(execution, dict) else None
    return trace if isinstance(trace, str) else None


class StepReply(DeferredModel):
    run_id: UUID
    status: RunStatus

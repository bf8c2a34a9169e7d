"""Requests and answers of the runs endpoints."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, field_validator, model_validator

from auralink.agents.runs.models import RunError, RunStatus, WaitingFor
from auralink.model import DeferredModel

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


class _Input(DeferredModel):
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
    """The answer to a waiting run: ``input`` (any JSON value, what a workflow's human node
    asks), or ``answer`` (text, what a team's member asked the person); one of the two."""

    input: Any = Field(default=None, description="The answer to the run's waiting node: any JSON value")
    # What may be empty is the waiting run's to say (its input schema): a crew's review takes an
    # empty answer as acceptance, a member's question does not.
    answer: str | None = Field(
        default=None,
        description="The answer to a team run's question, or a review of a crew's task (empty accepts it)",
    )

    _input_size = field_validator("input", "answer")(_bounded)

    @model_validator(mode="after")
    def _one_answer(self) -> ResumeRequest:
        given = {"input", "answer"} & self.model_fields_set
        if len(given) != 1:
            raise ValueError("give the answer as either input or answer (exactly one of them)")
        if "answer" in given and self.answer is None:
            raise ValueError("answer must be text")
        return self

    @property
    def value(self) -> Any:
        return self.answer if "answer" in self.model_fields_set else self.input

    @property
    def field(self) -> str:
        """Where the answer is, for the messages of a 422."""
        return "body.answer" if "answer" in self.model_fields_set else "body.input"


RunKind = Literal["workflow", "team", "pipeline"]


class RunAccepted(DeferredModel):
    run_id: UUID
    status: RunStatus


class RunProgress(DeferredModel):
    """How far the run is: its units of work done (a workflow's nodes, else the run's steps), the
    node under way, and what a run that waits for a person asks (absent while it does not)."""

    steps_done: int
    current_node: str | None = None
    waiting_for: WaitingFor | None = Field(default=None, exclude_if=lambda value: value is None)
    # Team runs only: the members' messages so far and the member who spoke last.
    messages: int | None = Field(default=None, exclude_if=lambda value: value is None)
    current_speaker: str | None = Field(default=None, exclude_if=lambda value: value is None)
    # Crew runs only: tasks done of the total, and the task under way.
    tasks_done: int | None = Field(default=None, exclude_if=lambda value: value is None)
    tasks_total: int | None = Field(default=None, exclude_if=lambda value: value is None)
    current_task: str | None = Field(default=None, exclude_if=lambda value: value is None)


class RunUsage(DeferredModel):
    """The run's LLM calls, summed from the per-call metrics."""

    llm_calls: int
    input_tokens: int
    output_tokens: int
    tokens: int
    cost_usd: float


class TaskRun(DeferredModel):
    """One task run of a pipeline run, as Prefect ran it: a step, or one item of a map."""

    step: str
    map_index: int | None = Field(default=None, exclude_if=lambda value: value is None)
    # Prefect's state type (PENDING, RUNNING, COMPLETED, FAILED, CACHED, RETRYING...).
    state: str
    attempts: int
    started_at: datetime | None = None
    ended_at: datetime | None = None
    output: Any = None
    error: str | None = None


def _absent(value: Any) -> bool:
    return value is None


class RunView(DeferredModel):
    run_id: UUID
    kind: RunKind
    workflow_id: UUID | None
    team_id: UUID | None
    pipeline_id: UUID | None = Field(default=None, exclude_if=_absent)
    framework: str
    status: RunStatus
    cancel_requested: bool
    progress: RunProgress
    events: list[dict[str, Any]]
    output: Any
    error: RunError | None
    usage: RunUsage
    # Pipeline runs only: the Prefect flow run, where Prefect's UI shows it, and its task runs.
    prefect_flow_run_id: UUID | None = Field(default=None, exclude_if=_absent)
    prefect_ui_url: str | None = Field(default=None, exclude_if=_absent)
    task_runs: list[TaskRun] | None = Field(default=None, exclude_if=_absent)
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunSummary(DeferredModel):
    run_id: UUID
    kind: RunKind
    workflow_id: UUID | None
    team_id: UUID | None
    pipeline_id: UUID | None = Field(default=None, exclude_if=_absent)
    framework: str
    status: RunStatus
    steps_done: int
    error: RunError | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunPage(DeferredModel):
    runs: list[RunSummary]
    next_cursor: str | None


MessageType = Literal["text", "tool_call", "tool_result", "handoff", "stop"]


class RunMessage(DeferredModel):
    """A message of a team run: ``seq`` orders them; ``usage`` is the model call's that wrote it."""

    seq: int
    source: str
    type: MessageType
    content: Any
    usage: dict[str, int] | None
    created_at: datetime


class MessagePage(DeferredModel):
    """Messages after the ``after`` asked for, oldest first; ``next`` is the ``after`` to ask
    with next time (messages written later appear there)."""

    messages: list[RunMessage]
    next: int

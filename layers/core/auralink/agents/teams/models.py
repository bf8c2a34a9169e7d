"""A team's definition, for both frameworks, and the requests and answers of the teams API.

A team is the product's own JSON: members, a collaboration mode, termination bounds, and (CrewAI)
tasks or (AutoGen graph) edges. The executors compile it into framework objects in code; nothing
of a framework's own declarative format is stored or loaded. This module parses shapes only;
`auralink.agents.teams.validation` checks what needs the whole team (names, references, modes).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from auralink.agents.workflows.definition import MAX_TEMPLATE, ModelId, ToolName
from auralink.model import DeferredModel

Framework = Literal["autogen", "crewai"]
CollaborationMode = Literal["round_robin", "selector", "swarm", "graph", "sequential", "hierarchical"]
AUTOGEN_MODES = ("round_robin", "selector", "swarm", "graph")
CREWAI_MODES = ("sequential", "hierarchical")
# The framework a mode belongs to: what a team that names no framework gets.
FRAMEWORK_OF_MODE: dict[str, Framework] = {
    **dict.fromkeys(AUTOGEN_MODES, "autogen"),
    **dict.fromkeys(CREWAI_MODES, "crewai"),
}
# A handoff to the person: the run then waits for their answer.
USER = "user"

MAX_MEMBERS = 20
MAX_TASKS = 30
MAX_EDGES = 100
MAX_NAME = 64

# Whether a name is an identifier is the validation's business (it names the path).
MemberName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE)]
ShortText = Annotated[str, Field(min_length=1, max_length=2000)]


class _Strict(DeferredModel):
    model_config = ConfigDict(extra="forbid")


class Member(_Strict):
    """A member of either framework; the fields of the other framework stay null.

    AutoGen: `description` (required), `system_message`, `handoffs` (swarm only).
    CrewAI: `role`, `goal`, `backstory` (required), `allow_delegation`, `max_iter`.
    Both: `model` (a registry id; null: the user's default model) and `tools` (catalog names).
    """

    name: MemberName
    model: ModelId | None = None
    tools: list[ToolName] = Field(default_factory=list, max_length=32)
    description: ShortText | None = None
    system_message: Text | None = None
    handoffs: list[MemberName] | None = Field(default=None, max_length=MAX_MEMBERS)
    role: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    goal: ShortText | None = None
    backstory: Annotated[str, Field(min_length=1, max_length=5000)] | None = None
    allow_delegation: bool | None = None
    max_iter: int | None = Field(default=None, ge=1, le=50)


class Termination(_Strict):
    """When a run of the team stops, whichever comes first; every run has all four bounds but
    `text_mention`, so no run is endless."""

    max_messages: int = Field(default=20, ge=1, le=200)
    # AutoGen: the run stops when a message contains this text (e.g. "TERMINATE").
    text_mention: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timeout_seconds: int = Field(default=900, ge=10, le=3600)
    max_cost_usd: float = Field(default=1.0, gt=0, le=50)


class Edge(_Strict):
    """A graph team's edge: `to` speaks after `from`; with a `condition`, only when the last
    message of `from` contains that text (AutoGen GraphFlow's string condition)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    from_: MemberName = Field(alias="from")
    to: MemberName
    condition: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class Task(_Strict):
    """A CrewAI task; `{task_description}` and `{additional_context}` in its texts are the
    run's inputs."""

    name: MemberName
    description: Text
    expected_output: Text
    # The member doing it; a hierarchical crew's manager assigns tasks that name nobody.
    agent: MemberName | None = None
    # Tasks listed before this one whose outputs it reads.
    context: list[MemberName] = Field(default_factory=list, max_length=MAX_TASKS)
    human_input: bool = False


class TeamDefinition(_Strict):
    """What a team is, normalised: every field present, the framework decided. The executors
    read this (see `service.get_definition`)."""

    framework: Framework
    collaboration_mode: CollaborationMode
    members: list[Member] = Field(default_factory=list, max_length=MAX_MEMBERS)
    termination: Termination = Field(default_factory=Termination)
    tasks: list[Task] = Field(default_factory=list, max_length=MAX_TASKS)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
    # A graph's first speaker; null: the members nothing leads to (AutoGen's start nodes).
    entry: MemberName | None = None
    # The model that picks the next speaker (selector) or manages the crew (hierarchical);
    # null: the user's default model.
    manager_model: ModelId | None = None

    def member(self, name: str) -> Member:
        """The member of that name; KeyError when there is none."""
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(name)


class TeamRequest(_Strict):
    """The body of a create and of a replace. Without `framework`, the mode decides it (sequential
    and hierarchical: crewai; the others: autogen). On a replace, `members` left out keeps the
    team's members."""

    team_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: str = Field(default="", max_length=2000)
    framework: Framework | None = None
    collaboration_mode: CollaborationMode
    members: list[Member] | None = Field(default=None, max_length=MAX_MEMBERS)
    termination: Termination = Field(default_factory=Termination)
    tasks: list[Task] = Field(default_factory=list, max_length=MAX_TASKS)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
    entry: MemberName | None = None
    manager_model: ModelId | None = None


class TeamSummary(DeferredModel):
    team_id: UUID
    team_name: str
    description: str
    framework: Framework
    collaboration_mode: CollaborationMode
    member_count: int
    created_at: datetime
    updated_at: datetime


class Team(DeferredModel):
    model_config = ConfigDict(serialize_by_alias=True)

    team_id: UUID
    team_name: str
    description: str
    framework: Framework
    collaboration_mode: CollaborationMode
    members: list[Member]
    termination: Termination
    tasks: list[Task]
    edges: list[Edge]
    entry: str | None
    manager_model: str | None
    created_at: datetime
    updated_at: datetime


class TeamPage(DeferredModel):
    teams: list[TeamSummary]
    next_cursor: str | None


class MemberList(DeferredModel):
    members: list[Member]


# ---------------------------------------------------------------- runs of a team

MAX_TASK = 20_000
MAX_CONTEXT_BYTES = 64 * 1024


class ExecuteTeamRequest(_Strict):
    """A task for the team; ``additional_context`` (any JSON object) is given to the agents with it."""

    task_description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TASK)
    ]
    additional_context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("additional_context")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
        if size > MAX_CONTEXT_BYTES:
            raise ValueError(f"must be at most {MAX_CONTEXT_BYTES} bytes as JSON (it is {size})")
        return value


class ConversationSummary(DeferredModel):
    """A run of the team: its task, status, how many messages, when, and what its models cost."""

    run_id: UUID | None
    task_description: str
    status: str | None
    message_count: int
    stop_reason: str | None
    cost_usd: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ConversationPage(DeferredModel):
    conversations: list[ConversationSummary]
    next_cursor: str | None

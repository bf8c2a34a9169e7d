"""Whether a pipeline can run: its shape, its graph, its texts, its parameters' schema, and what
its steps name.

`validate` reports every problem it finds at once, each with the path of the field at fault
(``body.definition.steps[2].prompt``), in one `ValidationFailed`, as the workflows' and the
teams' validations do. The texts' own rules are in `texts`.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from auralink.agents.pipelines import graph
from auralink.agents.pipelines.definition import (
    STEP_KINDS,
    TASK_OPTIONS,
    ConditionStep,
    InnerStep,
    LlmInner,
    LlmStep,
    MapStep,
    McpToolInner,
    McpToolStep,
    PipelineDefinition,
    Step,
    TeamInner,
    TeamStep,
    ToolInner,
    ToolStep,
    WorkflowInner,
    WorkflowStep,
)
from auralink.agents.pipelines.paths import FIELD, SCHEMA_FIELD, Problem, field_of, problem_at, step_field
from auralink.agents.pipelines.texts import text_problems
from auralink.agents.teams import service as teams
from auralink.agents.tools.references import References
from auralink.agents.workflows import service as workflows
from auralink.auth import Identity
from auralink.errors import NotFound, ValidationFailed
from auralink.settings import get_settings

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---------------------------------------------------------------- shape


def _extra_field_hint(name: str | int, kind: str | None, inner: bool) -> str | None:
    if inner and name in ("id", "depends_on"):
        return "a map's inner step has no id or depends_on: the map step has them"
    if kind == "map" and name in TASK_OPTIONS:
        return f"a map's items run with its inner step's retries, timeout and cache: set {name} on step"
    if kind == "condition" and name in TASK_OPTIONS:
        return f"a condition is evaluated, not run as a task: it has no {name}"
    return None


def _shape_problem(error: Any) -> Problem:
    # A step's errors carry the union's tag after its index, and an inner step's after "step"
    # (steps, 2, "map", "step", "llm", "prompt"): drop the tags, remembering the innermost.
    location: list[str | int] = []
    kind: str | None = None
    inner = False
    for index, part in enumerate(error["loc"]):
        previous = error["loc"][index - 1] if index else None
        if part in STEP_KINDS and (isinstance(previous, int) or previous == "step"):
            kind, inner = part, previous == "step"
            continue
        location.append(part)
    message = error["msg"]
    if error["type"] == "extra_forbidden" and location:
        message = _extra_field_hint(location[-1], kind, inner) or message
    return problem_at(field_of(FIELD, *location), message)


def _shape_problems(error: ValidationError) -> list[Problem]:
    return [_shape_problem(item) for item in error.errors(include_url=False, include_input=False)]


# ---------------------------------------------------------------- graph


def _positions(definition: PipelineDefinition) -> dict[str, int]:
    found: dict[str, int] = {}
    for position, step in enumerate(definition.steps):
        found.setdefault(step.id, position)
    return found


def _id_problems(definition: PipelineDefinition) -> Iterator[Problem]:
    first_at = _positions(definition)
    for position, step in enumerate(definition.steps):
        if _IDENTIFIER.match(step.id) is None or keyword.iskeyword(step.id):
            yield problem_at(
                step_field(position, "id"),
                "a step id is an identifier (letters, digits and _, not starting with a digit, not a"
                " Python keyword): expressions name it as steps.<id>",
            )
        first = first_at[step.id]
        if first != position:
            yield problem_at(step_field(position, "id"), f"{step.id!r} is the id of steps[{first}] already")


def _dependency_problems(definition: PipelineDefinition) -> Iterator[Problem]:
    known = {step.id for step in definition.steps}
    for position, step in enumerate(definition.steps):
        seen: set[str] = set()
        for index, other in enumerate(step.depends_on):
            field = step_field(position, "depends_on", index)
            if other == step.id:
                yield problem_at(field, "a step cannot depend on itself")
            elif other not in known:
                yield problem_at(field, f"no step {other!r} in this pipeline")
            elif other in seen:
                yield problem_at(field, f"{other!r} is listed twice")
            seen.add(other)


def _cycle_problems(definition: PipelineDefinition) -> Iterator[Problem]:
    positions = _positions(definition)
    for cycle in graph.cycles(definition.dependencies()):
        position = positions[cycle[0]]
        index = definition.steps[position].depends_on.index(cycle[1])
        yield problem_at(
            step_field(position, "depends_on", index),
            f"the steps wait for one another in a cycle: {' -> '.join(cycle)} (each depends on the next)",
        )


# ---------------------------------------------------------------- parameters


def parameters_schema_problems(schema: dict[str, Any] | None) -> list[Problem]:
    """The parameters' schema: valid JSON Schema, references only inside itself, patterns that RE2
    runs, and one that a JSON object (the parameters) can satisfy."""
    if schema is None:
        return []
    from auralink import schemas  # noqa: PLC0415  # jsonschema (~50 ms): only for the requests that check a schema

    found = [
        problem_at(
            field_of(SCHEMA_FIELD, *problem.path),
            problem.message if problem.unsupported else f"not a valid JSON schema: {problem.message}",
        )
        for problem in schemas.problems(schema)
    ]
    declared = schema.get("type")
    if declared is not None and "object" not in (declared if isinstance(declared, list) else [declared]):
        found.append(
            problem_at(field_of(SCHEMA_FIELD, "type"), "the parameters are a JSON object: its type is object")
        )
    return found


# ---------------------------------------------------------------- what the steps name


class _Saved:
    """The user's workflows and teams that steps name, each looked up once."""

    def __init__(self, identity: Identity) -> None:
        self._user_id = identity.sub
        self._workflows: dict[UUID, bool] = {}
        self._teams: dict[UUID, bool] = {}

    def workflow_problem(self, workflow_id: UUID) -> str | None:
        if workflow_id not in self._workflows:
            try:
                workflows.get_definition(self._user_id, str(workflow_id))
                self._workflows[workflow_id] = True
            except NotFound:
                self._workflows[workflow_id] = False
        return None if self._workflows[workflow_id] else "no workflow of yours has this id"

    def team_problem(self, team_id: UUID) -> str | None:
        if team_id not in self._teams:
            try:
                teams.get_definition(self._user_id, str(team_id))
                self._teams[team_id] = True
            except NotFound:
                self._teams[team_id] = False
        return None if self._teams[team_id] else "no team of yours has this id"


def _named_problems(
    field: str, step: Step | InnerStep, references: References, saved: _Saved
) -> Iterator[tuple[str, str | None]]:
    """(field, problem or None) for each tool, connection, model, workflow and team the step names."""
    match step:
        case ToolStep() | ToolInner():
            yield field + ".tool", references.tool_problem(step.tool)
        case McpToolStep() | McpToolInner():
            yield field + ".connection", references.connection_problem(step.connection)
            yield field + ".tool", references.connection_tool_problem(step.connection, step.tool)
        case LlmStep() | LlmInner():
            if step.model is not None:
                yield field + ".model", references.model_problem(step.model)
        case WorkflowStep() | WorkflowInner():
            yield field + ".workflow_id", saved.workflow_problem(step.workflow_id)
        case TeamStep() | TeamInner():
            yield field + ".team_id", saved.team_problem(step.team_id)
        case MapStep():
            yield from _named_problems(field + ".step", step.step, references, saved)
        case ConditionStep():
            return


def _reference_problems(identity: Identity, definition: PipelineDefinition) -> list[Problem]:
    references, saved = References(identity), _Saved(identity)
    return [
        problem_at(field, found)
        for position, step in enumerate(definition.steps)
        for field, found in _named_problems(step_field(position), step, references, saved)
        if found is not None
    ]


def _llm_steps(definition: PipelineDefinition) -> Iterator[tuple[str, LlmStep | LlmInner]]:
    """Every llm step, a map's inner one included, with its field path."""
    for position, step in enumerate(definition.steps):
        if isinstance(step, LlmStep):
            yield step_field(position), step
        elif isinstance(step, MapStep) and isinstance(step.step, LlmInner):
            yield step_field(position, "step"), step.step


def _token_problems(definition: PipelineDefinition) -> list[Problem]:
    """llm steps asking for more tokens than one model call may (the gateway refuses them too)."""
    cap = get_settings().llm_max_tokens
    return [
        problem_at(field + ".max_tokens", f"max_tokens may be at most {cap}")
        for field, step in _llm_steps(definition)
        if step.max_tokens is not None and step.max_tokens > cap
    ]


# ---------------------------------------------------------------- entry point


def problems_without_lookups(
    definition: PipelineDefinition, parameters_schema: dict[str, Any] | None = None
) -> list[Problem]:
    """What is wrong with a parsed definition and its parameters' schema, short of what its steps
    name (no I/O)."""
    return [
        *parameters_schema_problems(parameters_schema),
        *_id_problems(definition),
        *_dependency_problems(definition),
        *_cycle_problems(definition),
        *text_problems(definition, parameters_schema),
    ]


def validate(
    identity: Identity, definition_json: dict[str, Any], parameters_schema: dict[str, Any] | None
) -> PipelineDefinition:
    """The definition, parsed and checked for ``identity`` with its parameters' schema;
    `ValidationFailed` listing every problem (``max_tokens_too_large`` when the only problems are
    llm steps' max_tokens over the cap)."""
    tokens: list[Problem] = []
    try:
        definition = PipelineDefinition.model_validate(definition_json)
    except ValidationError as exc:
        problems = [*parameters_schema_problems(parameters_schema), *_shape_problems(exc)]
    else:
        tokens = _token_problems(definition)
        problems = [
            *problems_without_lookups(definition, parameters_schema),
            *tokens,
            *_reference_problems(identity, definition),
        ]
    if problems:
        raise ValidationFailed(
            f"The pipeline has {len(problems)} problem{'s' if len(problems) > 1 else ''}",
            code="max_tokens_too_large" if problems == tokens else "validation_failed",
            details=problems,
        )
    return definition

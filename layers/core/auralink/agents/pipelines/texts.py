"""The texts of a pipeline: templates and expressions, and what they may name.

They are the workflow language's, over the roots ``parameters``, ``steps`` and (in a map's inner
step) ``item``. A step reads only the outputs of the steps it waits for, directly or through other
steps, so that those exist when it runs; a condition has no output; a parameter is one of the
schema's properties when the schema lists some; a map goes over one placeholder naming a list.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auralink.agents.pipelines import graph
from auralink.agents.pipelines.definition import (
    ITEM,
    ITEM_ROOTS,
    OUTPUT,
    PARAMETERS,
    STEP_ROOTS,
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
from auralink.agents.pipelines.paths import FIELD, Problem, field_of, problem_at, step_field
from auralink.agents.workflows import expressions, templates
from auralink.agents.workflows.templates import Segment


class _Readable:
    """What the texts of a pipeline may name: its parameters (when the schema lists them) and, for
    each step, the outputs of the steps it waits for."""

    def __init__(self, definition: PipelineDefinition, parameters_schema: dict[str, Any] | None) -> None:
        self.kinds: dict[str, str] = {}
        for step in definition.steps:
            self.kinds.setdefault(step.id, step.kind)
        self.upstream = graph.upstream(definition.dependencies())
        properties = (parameters_schema or {}).get("properties")
        self.parameters: dict[str, Any] | None = properties if isinstance(properties, dict) else None

    def problem(self, segments: tuple[Segment, ...], reader: str | None, *, item: bool) -> str | None:
        """Why a text of ``reader`` (None: the pipeline's output) may not name this path."""
        if segments[0] == ITEM:
            return None if item else "only a map's inner step has an item"
        if segments[0] == PARAMETERS:
            return self._parameter_problem(segments)
        return self._step_problem(segments, reader)

    def _parameter_problem(self, segments: tuple[Segment, ...]) -> str | None:
        if len(segments) == 1:
            return None
        name = segments[1]
        if not isinstance(name, str):
            return "the parameters are an object: name one as parameters.<name>"
        if self.parameters is not None and name not in self.parameters:
            return f"no parameter {name!r} among the properties of parameters_schema"
        return None

    def _step_problem(  # noqa: PLR0911  (one answer per rule, in the order a reader fixes them)
        self, segments: tuple[Segment, ...], reader: str | None
    ) -> str | None:
        step = segments[1] if len(segments) > 1 else None
        if not isinstance(step, str):
            return "name one step's output: steps.<step id>.output"
        if step not in self.kinds:
            return f"no step {step!r} in this pipeline"
        if step == reader:
            return "a step cannot read its own output"
        if self.kinds[step] == "condition":
            return f"{step!r} is a condition: it has no output, it decides whether its dependents run"
        if len(segments) < 3 or segments[2] != OUTPUT:
            return f"name the step's output: steps.{step}.output"
        if reader is not None and step not in self.upstream[reader]:
            return f"{reader!r} does not wait for {step!r}: add {step!r} to its depends_on"
        return None

    def parameter_schema(self, name: str) -> Any:
        return (self.parameters or {}).get(name)


def _shown(segments: tuple[Segment, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in segments).lstrip(".")


def _template_problems(
    field: str, text: str, readable: _Readable, reader: str | None, *, item: bool
) -> Iterator[Problem]:
    try:
        paths = templates.check(text, ITEM_ROOTS)
    except templates.TemplateError as exc:
        yield problem_at(field, str(exc))
        return
    for path in paths:
        problem = readable.problem(templates.parse_path(path, ITEM_ROOTS), reader, item=item)
        if problem is not None:
            yield problem_at(field, f"{{{path}}}: {problem}")


def _texts(step: Step | InnerStep) -> Iterator[tuple[str, str]]:
    """Every template of a step but a map's ``over``, with the rest of its field path."""
    match step:
        case McpToolStep() | McpToolInner() | ToolStep() | ToolInner():
            for path, text in templates.strings_in(step.arguments):
                yield ".arguments" + path, text
        case LlmStep() | LlmInner():
            yield ".prompt", step.prompt
        case WorkflowStep() | WorkflowInner():
            for path, text in templates.strings_in(step.input):
                yield ".input" + path, text
        case TeamStep() | TeamInner():
            yield ".task_description", step.task_description
            for path, text in templates.strings_in(step.additional_context):
                yield ".additional_context" + path, text
        case MapStep():
            for where, text in _texts(step.step):
                yield ".step" + where, text
        case ConditionStep():
            return


def _over_problems(position: int, step: MapStep, readable: _Readable) -> Iterator[Problem]:
    field = step_field(position, "over")
    try:
        paths = templates.check(step.over, ITEM_ROOTS)
    except templates.TemplateError as exc:
        yield problem_at(field, str(exc))
        return
    if len(paths) != 1 or step.over != f"{{{paths[0]}}}":
        yield problem_at(
            field, "over is one placeholder naming a list, such as {parameters.items} or {steps.<id>.output}"
        )
        return
    segments = templates.parse_path(paths[0], ITEM_ROOTS)
    problem = readable.problem(segments, step.id, item=False)
    if problem is None and segments == (PARAMETERS,):
        problem = "the parameters are an object, not a list: name one of them"
    if problem is None and segments[0] == PARAMETERS and len(segments) == 2:
        problem = _not_a_list(str(segments[1]), readable.parameter_schema(str(segments[1])))
    if problem is not None:
        yield problem_at(field, f"{step.over}: {problem}")


def _not_a_list(name: str, schema: Any) -> str | None:
    declared = schema.get("type") if isinstance(schema, dict) else None
    types = declared if isinstance(declared, list) else [declared]
    if declared is None or "array" in types:
        return None
    return f"parameters_schema makes {name!r} a {' or '.join(map(str, types))}: a map needs a list"


def _expression_problems(position: int, step: ConditionStep, readable: _Readable) -> Iterator[Problem]:
    field = step_field(position, "expression")
    try:
        lookups = expressions.lookups(step.expression, STEP_ROOTS)
    except expressions.ExpressionError as exc:
        yield problem_at(field, str(exc))
        return
    for segments in lookups:
        problem = readable.problem(segments, step.id, item=False)
        if problem is not None:
            yield problem_at(field, f"{_shown(segments)}: {problem}")


def text_problems(
    definition: PipelineDefinition, parameters_schema: dict[str, Any] | None
) -> Iterator[Problem]:
    """What is wrong with the templates and expressions of the definition's steps and output."""
    readable = _Readable(definition, parameters_schema)
    for position, step in enumerate(definition.steps):
        # A map's texts are its inner step's: they have an item.
        inside_map = isinstance(step, MapStep)
        for where, text in _texts(step):
            field = step_field(position) + where
            yield from _template_problems(field, text, readable, step.id, item=inside_map)
        if isinstance(step, MapStep):
            yield from _over_problems(position, step, readable)
        elif isinstance(step, ConditionStep):
            yield from _expression_problems(position, step, readable)
    for where, text in templates.strings_in(definition.output):
        yield from _template_problems(field_of(FIELD, OUTPUT) + where, text, readable, None, item=False)

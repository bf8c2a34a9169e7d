"""The definition of a pipeline: steps of seven kinds, ordered by what each depends on.

A pipeline is a set of steps, each naming the steps it waits for (``depends_on``); the steps that
wait for nothing start first. A step reads the pipeline's parameters and the outputs of the steps
it depends on, directly or not, through the workflow language's templates and expressions, over
the roots ``parameters`` and ``steps`` (``{steps.<id>.output}``), and ``item`` inside a map. This
module only parses the shape; `auralink.agents.pipelines.validation` checks the graph, the texts
and what the steps name (tools, models, connections, workflows, teams).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field

from auralink.agents.tools.names import CONNECTION_NAME, MCP_TOOL_NAME
from auralink.agents.workflows.definition import MAX_EXPRESSION, ModelId, Template, ToolName
from auralink.agents.workflows.templates import Roots
from auralink.model import DeferredModel

MAX_STEPS = 50
MAX_CONCURRENCY = 20
MAX_RETRIES = 10
MAX_RETRY_DELAY_S = 3600
# A step runs within one call of the run step function (Lambda's 15 minutes at most).
MAX_TIMEOUT_S = 900
MAX_STEP_ID = 64
# What a JSON field of a definition (arguments, inputs, the output, the parameters' schema) may
# weigh once serialised: runs carry definitions in every step.
MAX_JSON_BYTES = 64 * 1024

PARAMETERS, STEPS, ITEM, OUTPUT = "parameters", "steps", "item", "output"
# The roots of a step's texts, and of a map's inner step's (the item it is given).
STEP_ROOTS = Roots(names=(PARAMETERS, STEPS), shown=("parameters.<name>", "steps.<step id>.output"))
ITEM_ROOTS = Roots(names=(*STEP_ROOTS.names, ITEM), shown=(*STEP_ROOTS.shown, "item"))
# The fields that say how a step's task runs: a map's items take them from its inner step, and a
# condition, evaluated rather than run, has none.
TASK_OPTIONS = ("retries", "retry_delay_seconds", "timeout_seconds", "cache")


def bounded(value: Any) -> Any:
    """The value, unless it weighs more than `MAX_JSON_BYTES` as JSON."""
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    if size > MAX_JSON_BYTES:
        raise ValueError(f"must be at most {MAX_JSON_BYTES} bytes as JSON (it is {size})")
    return value


# Whether an id is an identifier is the validation's business (it names the path).
StepId = Annotated[str, Field(min_length=1, max_length=MAX_STEP_ID)]
JsonObject = Annotated[dict[str, Any], AfterValidator(bounded)]


class _Strict(DeferredModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- what a step does
#
# Each kind's own fields, then how its task runs; a step is one of these with an id and its
# dependencies, and a map's inner step is one without.


class _Task(_Strict):
    """How a step's task runs: attempts after a failure, the wait between them, its time limit
    (none: the run step's own), and whether a result is reused for the same resolved inputs."""

    retries: int = Field(default=0, ge=0, le=MAX_RETRIES)
    retry_delay_seconds: int = Field(default=0, ge=0, le=MAX_RETRY_DELAY_S)
    timeout_seconds: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_S)
    cache: bool = False


class _McpTool(_Strict):
    """One call of a tool of the user's MCP connection; strings in ``arguments`` are templates."""

    kind: Literal["mcp_tool"]
    connection: str = Field(pattern=f"^{CONNECTION_NAME}$")
    tool: str = Field(pattern=f"^{MCP_TOOL_NAME}$")
    arguments: JsonObject = Field(default_factory=dict)


class _Tool(_Strict):
    """One call of a catalog tool (``calculator``, ``mcp:<connection>/<tool>``...)."""

    kind: Literal["tool"]
    tool: ToolName
    arguments: JsonObject = Field(default_factory=dict)


class _Llm(_Strict):
    """One model call on the rendered prompt; its output is the reply's text."""

    kind: Literal["llm"]
    prompt: Template
    # A registry id "<provider>/<model>"; None: the user's default model.
    model: ModelId | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    temperature: float | None = Field(default=None, ge=0, le=2)


class _Workflow(_Strict):
    """A run of one of the user's workflows on the rendered input; its output is the run's."""

    kind: Literal["workflow"]
    workflow_id: UUID
    input: JsonObject = Field(default_factory=dict)


class _Team(_Strict):
    """A run of one of the user's teams on the rendered task; its output is the run's."""

    kind: Literal["team"]
    team_id: UUID
    task_description: Template
    additional_context: JsonObject = Field(default_factory=dict)


class _Placed(_Strict):
    id: StepId
    depends_on: list[StepId] = Field(default_factory=list, max_length=MAX_STEPS)


# The order of the bases puts a step's fields in this order: id, depends_on, kind, the kind's
# fields, then the task's options.
class McpToolInner(_Task, _McpTool):
    pass


class ToolInner(_Task, _Tool):
    pass


class LlmInner(_Task, _Llm):
    pass


class WorkflowInner(_Task, _Workflow):
    pass


class TeamInner(_Task, _Team):
    pass


class McpToolStep(_Task, _McpTool, _Placed):
    pass


class ToolStep(_Task, _Tool, _Placed):
    pass


class LlmStep(_Task, _Llm, _Placed):
    pass


class WorkflowStep(_Task, _Workflow, _Placed):
    pass


class TeamStep(_Task, _Team, _Placed):
    pass


InnerStep = Annotated[
    McpToolInner | ToolInner | LlmInner | WorkflowInner | TeamInner, Field(discriminator="kind")
]


class MapStep(_Placed):
    """Runs its inner step once per item of the list ``over`` names, at most ``concurrency`` at a
    time; its output is the list of the items' outputs, in the list's order."""

    kind: Literal["map"]
    # One placeholder naming a list: {parameters.<name>...} or {steps.<id>.output...}.
    over: Annotated[str, Field(min_length=1, max_length=1000)]
    concurrency: int = Field(ge=1, le=MAX_CONCURRENCY)
    step: InnerStep


class ConditionStep(_Placed):
    """When its expression is false, the steps that depend on it (and theirs) are skipped; it has
    no output of its own."""

    kind: Literal["condition"]
    expression: Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION)]


Step = Annotated[
    McpToolStep | ToolStep | LlmStep | WorkflowStep | TeamStep | MapStep | ConditionStep,
    Field(discriminator="kind"),
]
STEP_KINDS = ("mcp_tool", "tool", "llm", "workflow", "team", "map", "condition")


class PipelineDefinition(_Strict):
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    # What a run returns: any JSON value whose strings are templates over parameters and steps;
    # None: the outputs of the steps that no step depends on, by id.
    output: Annotated[Any, AfterValidator(bounded)] = None

    def dependencies(self) -> dict[str, list[str]]:
        """Each step's direct dependencies, by id (an id used twice: its first step's)."""
        found: dict[str, list[str]] = {}
        for step in self.steps:
            found.setdefault(step.id, list(step.depends_on))
        return found

    def step(self, step_id: str) -> Step:
        """The step of that id; KeyError when there is none."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

"""The definition of a workflow: nodes of five kinds, and the edges between them.

A definition is a directed graph entered at ``entry``. Every node but a condition has exactly one
outgoing edge; a condition routes by its branches and its default. ``END`` is the terminal target.
This module only parses the shape; `auralink.agents.workflows.validation` checks the graph, the
templates, the expressions, the tools and the models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field

from auralink.model import DeferredModel

END = "END"
NODE_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
MAX_TEMPLATE = 20_000
MAX_EXPRESSION = 2_000
MAX_MODEL_ID = 200
MAX_TOOL_NAME = 200


def _not_end(node_id: str) -> str:
    if node_id == END:
        raise ValueError("END is the reserved terminal target and cannot name a node")
    return node_id


NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN), AfterValidator(_not_end)]
# A node id or END; whether the node exists is the graph check's business (it names the path).
Target = Annotated[str, Field(min_length=1, max_length=64)]
Template = Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE)]
ModelId = Annotated[str, Field(min_length=1, max_length=MAX_MODEL_ID)]
ToolName = Annotated[str, Field(min_length=1, max_length=MAX_TOOL_NAME)]


class _Strict(DeferredModel):
    model_config = ConfigDict(extra="forbid")


def _unique(tools: list[str]) -> list[str]:
    repeated = sorted({tool for tool in tools if tools.count(tool) > 1})
    if repeated:
        raise ValueError(f"tools must be unique: {', '.join(repeated)} repeated")
    return tools


class LlmNode(_Strict):
    """One model call: the rendered prompt (and system message) in, the reply's text out."""

    id: NodeId
    kind: Literal["llm"]
    prompt: Template
    system: Template | None = None
    # A registry id "<provider>/<model>"; None: the run's model, else the user's default.
    model: ModelId | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)


class AgentNode(_Strict):
    """A tool-using agent: the model calls the listed tools until it answers (or runs out of turns)."""

    id: NodeId
    kind: Literal["agent"]
    instructions: Template
    # The task; None: the run's input, as JSON.
    prompt: Template | None = None
    tools: Annotated[list[ToolName], Field(min_length=1, max_length=32), AfterValidator(_unique)]
    model: ModelId | None = None
    max_iterations: int = Field(default=8, ge=1, le=25)


class ToolNode(_Strict):
    """One fixed tool call; every string inside ``arguments``, at any depth, is a template."""

    id: NodeId
    kind: Literal["tool"]
    tool: ToolName
    arguments: dict[str, Any] = Field(default_factory=dict)


class Branch(_Strict):
    when: str = Field(min_length=1, max_length=MAX_EXPRESSION)
    to: Target


class ConditionNode(_Strict):
    """Routes to the first branch whose expression holds, else to ``default``; it has no output."""

    id: NodeId
    kind: Literal["condition"]
    branches: list[Branch] = Field(min_length=1, max_length=16)
    default: Target


class HumanNode(_Strict):
    """Pauses the run until a person answers the rendered prompt; the answer is the node's output."""

    id: NodeId
    kind: Literal["human"]
    prompt: Template
    # The JSON schema the answer must satisfy; None: any JSON value.
    input_schema: dict[str, Any] | None = None


Node = Annotated[LlmNode | AgentNode | ToolNode | ConditionNode | HumanNode, Field(discriminator="kind")]
NODE_KINDS = ("llm", "agent", "tool", "condition", "human")


class Edge(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    from_: Target = Field(alias="from")
    to: Target


class WorkflowDefinition(_Strict):
    entry: Target
    nodes: list[Node] = Field(min_length=1, max_length=100)
    edges: list[Edge] = Field(default_factory=list, max_length=500)

    def node(self, node_id: str) -> Node:
        """The node of that id; KeyError when there is none."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def successor(self, node_id: str) -> str:
        """Where a non-condition node leads (a node id or END); ValueError unless exactly one edge."""
        targets = [edge.to for edge in self.edges if edge.from_ == node_id]
        if len(targets) != 1:
            raise ValueError(f"node {node_id!r} has {len(targets)} outgoing edges, not one")
        return targets[0]

    def targets(self, node_id: str) -> list[str]:
        """Every id the node may lead to, in order and without repeats (END included)."""
        node = self.node(node_id)
        if isinstance(node, ConditionNode):
            candidates = [branch.to for branch in node.branches] + [node.default]
        else:
            candidates = [edge.to for edge in self.edges if edge.from_ == node_id]
        return list(dict.fromkeys(candidates))

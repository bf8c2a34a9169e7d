"""Whether a workflow definition can run: its shape, its graph, its texts, its tools and its models.

`validate` reports every problem it finds at once, each with the path of the field at fault
(``body.definition.nodes[2].prompt``), in one `ValidationFailed`. The graph checks need a
well-formed graph (known targets, one successor per node), so the reachability checks run only
when the edges themselves are sound.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import ValidationError

from auralink.agents.tools.references import References
from auralink.agents.workflows import expressions, templates
from auralink.agents.workflows.definition import (
    END,
    AgentNode,
    ConditionNode,
    HumanNode,
    LlmNode,
    Node,
    ToolNode,
    WorkflowDefinition,
)
from auralink.auth import Identity
from auralink.errors import ValidationFailed
from auralink.settings import get_settings

FIELD = "body.definition"

Problem = dict[str, str]


def _field(*parts: str | int) -> str:
    path = FIELD
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _problem(field: str, message: str) -> Problem:
    return {"field": field, "message": message}


# ---------------------------------------------------------------- shape


def _location(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # A node's errors carry the union's tag after its index (nodes, 2, "llm", "prompt"): drop it.
    if len(loc) > 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        return (*loc[:2], *loc[3:])
    return loc


def _shape_problems(error: ValidationError) -> list[Problem]:
    return [
        _problem(_field(*_location(item["loc"])), item["msg"])
        for item in error.errors(include_url=False, include_input=False)
    ]


# ---------------------------------------------------------------- graph


def _outgoing(definition: WorkflowDefinition) -> dict[str, list[int]]:
    edges: dict[str, list[int]] = {}
    for index, edge in enumerate(definition.edges):
        edges.setdefault(edge.from_, []).append(index)
    return edges


def _target_problems(definition: WorkflowDefinition, known: set[str]) -> Iterator[Problem]:
    kinds = {node.id: node.kind for node in definition.nodes}
    for index, edge in enumerate(definition.edges):
        if edge.from_ == END:
            yield _problem(_field("edges", index, "from"), "END ends the run: nothing leaves it")
        elif edge.from_ not in known:
            yield _problem(_field("edges", index, "from"), f"no node {edge.from_!r} in this workflow")
        elif kinds[edge.from_] == "condition":
            yield _problem(
                _field("edges", index, "from"),
                f"{edge.from_!r} is a condition: it routes by its branches and default, not by edges",
            )
        if edge.to != END and edge.to not in known:
            yield _problem(_field("edges", index, "to"), f"no node {edge.to!r} in this workflow")
    for position, node in enumerate(definition.nodes):
        if isinstance(node, ConditionNode):
            for branch_index, branch in enumerate(node.branches):
                if branch.to != END and branch.to not in known:
                    yield _problem(
                        _field("nodes", position, "branches", branch_index, "to"),
                        f"no node {branch.to!r} in this workflow",
                    )
            if node.default != END and node.default not in known:
                yield _problem(
                    _field("nodes", position, "default"), f"no node {node.default!r} in this workflow"
                )


def _successor_problems(definition: WorkflowDefinition) -> Iterator[Problem]:
    outgoing = _outgoing(definition)
    for position, node in enumerate(definition.nodes):
        if isinstance(node, ConditionNode):
            continue
        edges = outgoing.get(node.id, [])
        if not edges:
            yield _problem(
                _field("nodes", position),
                f"node {node.id!r} has no outgoing edge: add an edge to END to finish there",
            )
        for extra in edges[1:]:
            yield _problem(
                _field("edges", extra, "from"),
                f"node {node.id!r} already leads to {definition.edges[edges[0]].to!r} (edges[{edges[0]}]):"
                " a node has one successor; branch with a condition node",
            )


def _reachable(start: str, following: Callable[[str], list[str]]) -> set[str]:
    seen, pending = {start}, deque([start])
    while pending:
        for target in following(pending.popleft()):
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return seen


def _flow_problems(definition: WorkflowDefinition) -> Iterator[Problem]:
    ids = [node.id for node in definition.nodes]
    forward = {node_id: definition.targets(node_id) for node_id in ids}
    backward: dict[str, list[str]] = {}
    for source, targets in forward.items():
        for target in targets:
            backward.setdefault(target, []).append(source)

    def following(node_id: str) -> list[str]:
        return forward.get(node_id, [])

    from_entry = _reachable(definition.entry, following)
    to_end = _reachable(END, lambda node_id: backward.get(node_id, []))
    for position, node_id in enumerate(ids):
        if node_id not in from_entry:
            yield _problem(
                _field("nodes", position),
                f"node {node_id!r} cannot be reached from the entry {definition.entry!r}",
            )
        # Only the loop's own nodes: those that merely lead into it are fixed with it.
        elif node_id not in to_end and any(
            node_id in _reachable(target, following) for target in following(node_id)
        ):
            yield _problem(
                _field("nodes", position),
                f"node {node_id!r} never reaches END: it is in a loop with no exit"
                " (add a condition branch or an edge that leads out)",
            )


def _graph_problems(definition: WorkflowDefinition) -> list[Problem]:
    problems: list[Problem] = []
    first_at: dict[str, int] = {}
    for position, node in enumerate(definition.nodes):
        first = first_at.setdefault(node.id, position)
        if first != position:
            problems.append(
                _problem(
                    _field("nodes", position, "id"), f"node id {node.id!r} is used by nodes[{first}] already"
                )
            )
    known = set(first_at)
    if definition.entry not in known:
        problems.append(_problem(_field("entry"), f"no node {definition.entry!r} in this workflow"))
    problems.extend(_target_problems(definition, known))
    problems.extend(_successor_problems(definition))
    if not problems:
        problems.extend(_flow_problems(definition))
    return problems


# ---------------------------------------------------------------- texts


def _template_problems(definition: WorkflowDefinition) -> Iterator[Problem]:
    known = {node.id for node in definition.nodes}
    for position, node in enumerate(definition.nodes):
        for where, text in _texts(node):
            field = _field("nodes", position) + where
            try:
                paths = templates.check(text)
            except templates.TemplateError as exc:
                yield _problem(field, str(exc))
                continue
            for path in paths:
                segments = templates.parse_path(path)
                if segments[0] == "outputs" and len(segments) > 1 and segments[1] not in known:
                    yield _problem(field, f"{{{path}}} names no node of this workflow")


def _texts(node: Node) -> Iterator[tuple[str, str]]:
    """Every template of a node, with the rest of its field path (``.prompt``, ``.arguments.q[0]``)."""
    match node:
        case LlmNode():
            yield ".prompt", node.prompt
            if node.system is not None:
                yield ".system", node.system
        case AgentNode():
            yield ".instructions", node.instructions
            if node.prompt is not None:
                yield ".prompt", node.prompt
        case HumanNode():
            yield ".prompt", node.prompt
        case ToolNode():
            for path, text in templates.strings_in(node.arguments):
                yield ".arguments" + path, text
        case ConditionNode():
            return


def _expression_problems(definition: WorkflowDefinition) -> Iterator[Problem]:
    for position, node in enumerate(definition.nodes):
        if isinstance(node, ConditionNode):
            for index, branch in enumerate(node.branches):
                try:
                    expressions.check(branch.when)
                except expressions.ExpressionError as exc:
                    yield _problem(_field("nodes", position, "branches", index, "when"), str(exc))


def _schema_problems(definition: WorkflowDefinition) -> Iterator[Problem]:
    """A human node's input schema: valid JSON Schema, references only inside itself (an answer
    is checked against the schema alone, nothing is fetched), patterns that RE2 runs."""
    from auralink import schemas  # noqa: PLC0415  # jsonschema (~50 ms): only for the requests that check a schema

    for position, node in enumerate(definition.nodes):
        if isinstance(node, HumanNode) and node.input_schema is not None:
            for problem in schemas.problems(node.input_schema):
                message = (
                    problem.message if problem.unsupported else f"not a valid JSON schema: {problem.message}"
                )
                yield _problem(_field("nodes", position, "input_schema", *problem.path), message)


# ---------------------------------------------------------------- tools and models


def _reference_problems(identity: Identity, definition: WorkflowDefinition) -> Iterator[Problem]:
    lookups = References(identity)
    for position, node in enumerate(definition.nodes):
        model = getattr(node, "model", None)
        if isinstance(model, str) and (problem := lookups.model_problem(model)) is not None:
            yield _problem(_field("nodes", position, "model"), problem)
        if isinstance(node, AgentNode):
            for index, tool in enumerate(node.tools):
                if (problem := lookups.tool_problem(tool)) is not None:
                    yield _problem(_field("nodes", position, "tools", index), problem)
        elif isinstance(node, ToolNode) and (problem := lookups.tool_problem(node.tool)) is not None:
            yield _problem(_field("nodes", position, "tool"), problem)


# ---------------------------------------------------------------- entry point


def problems_without_lookups(definition: WorkflowDefinition) -> list[Problem]:
    """What is wrong with a parsed definition, short of its tools and models (no I/O)."""
    return [
        *_graph_problems(definition),
        *_template_problems(definition),
        *_expression_problems(definition),
        *_schema_problems(definition),
    ]


def _token_problems(definition: WorkflowDefinition) -> list[Problem]:
    """llm nodes asking for more tokens than one model call may (the gateway refuses them too)."""
    cap = get_settings().llm_max_tokens
    return [
        _problem(_field("nodes", position, "max_tokens"), f"max_tokens may be at most {cap}")
        for position, node in enumerate(definition.nodes)
        if isinstance(node, LlmNode) and node.max_tokens is not None and node.max_tokens > cap
    ]


def validate(identity: Identity, definition_json: dict[str, Any]) -> WorkflowDefinition:
    """The definition, parsed and checked for ``identity``; `ValidationFailed` listing every problem
    (``max_tokens_too_large`` when the only problems are llm nodes' max_tokens over the cap)."""
    tokens: list[Problem] = []
    try:
        definition = WorkflowDefinition.model_validate(definition_json)
    except ValidationError as exc:
        problems = _shape_problems(exc)
    else:
        tokens = _token_problems(definition)
        problems = [
            *problems_without_lookups(definition),
            *tokens,
            *_reference_problems(identity, definition),
        ]
    if problems:
        raise ValidationFailed(
            f"The workflow definition has {len(problems)} problem{'s' if len(problems) > 1 else ''}",
            code="max_tokens_too_large" if problems == tokens else "validation_failed",
            details=problems,
        )
    return definition

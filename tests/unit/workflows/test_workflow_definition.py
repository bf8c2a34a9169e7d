"""The definition model: its shape, its aliases and the graph helpers the run machinery uses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from auralink.agents.workflows.definition import (
    AgentNode,
    ConditionNode,
    Edge,
    HumanNode,
    LlmNode,
    ToolNode,
    WorkflowDefinition,
)

DEFINITION = {
    "entry": "draft",
    "nodes": [
        {"id": "draft", "kind": "llm", "prompt": "Draft a reply to {input.message}"},
        {
            "id": "check",
            "kind": "condition",
            "branches": [{"when": "len(outputs.draft) > 10", "to": "send"}],
            "default": "END",
        },
        {"id": "send", "kind": "tool", "tool": "web_search", "arguments": {"query": "{outputs.draft}"}},
        {"id": "research", "kind": "agent", "instructions": "Research", "tools": ["calculator"]},
        {"id": "ask", "kind": "human", "prompt": "OK?", "input_schema": {"type": "boolean"}},
    ],
    "edges": [
        {"from": "draft", "to": "check"},
        {"from": "send", "to": "research"},
        {"from": "research", "to": "ask"},
        {"from": "ask", "to": "END"},
    ],
}


def test_nodes_parse_into_their_kinds_with_defaults():
    definition = WorkflowDefinition.model_validate(DEFINITION)

    kinds = [type(node) for node in definition.nodes]
    assert kinds == [LlmNode, ConditionNode, ToolNode, AgentNode, HumanNode]
    agent = definition.node("research")
    assert isinstance(agent, AgentNode) and agent.max_iterations == 8 and agent.prompt is None


def test_edges_read_and_write_from_by_its_alias():
    definition = WorkflowDefinition.model_validate(DEFINITION)

    assert definition.edges[0].from_ == "draft"
    dumped = definition.model_dump(mode="json")
    assert dumped["edges"][0] == {"from": "draft", "to": "check"}
    assert WorkflowDefinition.model_validate(dumped) == definition
    assert Edge(from_="a", to="END").model_dump() == {"from": "a", "to": "END"}


def test_successor_and_targets():
    definition = WorkflowDefinition.model_validate(DEFINITION)

    assert definition.successor("draft") == "check"
    assert definition.successor("ask") == "END"
    assert definition.targets("check") == ["send", "END"]
    assert definition.targets("send") == ["research"]
    with pytest.raises(ValueError, match="0 outgoing edges"):
        definition.successor("check")
    with pytest.raises(KeyError):
        definition.node("nope")


def test_targets_of_a_condition_have_no_repeats():
    node = {"id": "c", "kind": "condition", "branches": [{"when": "true", "to": "END"}] * 2, "default": "END"}
    definition = WorkflowDefinition.model_validate({"entry": "c", "nodes": [node]})

    assert definition.targets("c") == ["END"]


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"id": "END"}, ("nodes", 0, "llm", "id")),
        ({"id": "9lives"}, ("nodes", 0, "llm", "id")),
        ({"id": "a" * 65}, ("nodes", 0, "llm", "id")),
        ({"prompt": ""}, ("nodes", 0, "llm", "prompt")),
        ({"prompt": "x" * 20_001}, ("nodes", 0, "llm", "prompt")),
        ({"temperature": 2.5}, ("nodes", 0, "llm", "temperature")),
        ({"max_tokens": 0}, ("nodes", 0, "llm", "max_tokens")),
        ({"colour": "red"}, ("nodes", 0, "llm", "colour")),
        ({"kind": "robot"}, ("nodes", 0)),
    ],
)
def test_field_constraints(change, location):
    document = {**DEFINITION, "nodes": [{**DEFINITION["nodes"][0], **change}, *DEFINITION["nodes"][1:]]}

    with pytest.raises(ValidationError) as caught:
        WorkflowDefinition.model_validate(document)
    assert location in [error["loc"] for error in caught.value.errors()]


def test_agent_tools_are_unique_and_bounded():
    base = {"id": "a", "kind": "agent", "instructions": "x"}
    for tools, message in (
        ([], "at least 1"),
        (["calculator", "calculator"], "unique"),
        (["t"] * 33, "at most 32"),
    ):
        with pytest.raises(ValidationError, match=message):
            WorkflowDefinition.model_validate({"entry": "a", "nodes": [{**base, "tools": tools}]})

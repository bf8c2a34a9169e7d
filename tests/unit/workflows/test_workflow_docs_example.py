"""The complete example of docs/workflows.md is a definition that passes every check short of I/O
(the docs test runs it for real: tests/e2e/test_docs_examples.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from auralink.agents.workflows.definition import AgentNode, WorkflowDefinition
from auralink.agents.workflows.expressions import route
from auralink.agents.workflows.templates import render
from auralink.agents.workflows.validation import problems_without_lookups

DOC = Path(__file__).resolve().parents[3] / "docs" / "workflows.md"


def _example() -> dict:
    """The workflow the example sends: the JSON of its heredoc (`--data-binary @- <<'EOF'`)."""
    section = DOC.read_text(encoding="utf-8").split("## A complete example", 1)[1]
    block = re.search(r"<<'EOF'[^\n]*\n(.*?)\nEOF\n", section, re.DOTALL)
    assert block is not None
    return json.loads(block.group(1))


def test_the_example_is_a_valid_definition():
    definition = WorkflowDefinition.model_validate(_example()["definition"])

    assert problems_without_lookups(definition) == []
    assert [node.kind for node in definition.nodes] == ["llm", "agent", "condition", "human"]
    agent = definition.node("draft")
    assert isinstance(agent, AgentNode) and "mcp:wiki/ask_question" in agent.tools


def test_the_example_routes_a_large_refund_to_a_person():
    definition = WorkflowDefinition.model_validate(_example()["definition"])
    state = {
        "input": {"customer": "Ada", "text": "I was charged twice", "order": {"total": 240}},
        "outputs": {"classify": "Refund", "draft": "We will refund you."},
    }

    condition = definition.node("route")
    assert route(condition, state) == "approve"
    assert route(condition, {**state, "input": {**state["input"], "order": {"total": 40}}}) == "END"
    human = definition.node("approve")
    assert render(human.prompt, state) == "Refund 240 to Ada? Draft: We will refund you."

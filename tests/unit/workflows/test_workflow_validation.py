"""Validation of definitions without I/O (built-in tools, no model named): each problem and its path.

Tools of MCP connections and models of the registry need the database: see
`tests/integration/workflows`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from auralink.agents.workflows.definition import WorkflowDefinition
from auralink.agents.workflows.validation import validate
from auralink.auth import Identity
from auralink.errors import ValidationFailed


@pytest.fixture(autouse=True)
def _settings(service_environment: pytest.MonkeyPatch) -> None:
    """The token cap comes from the settings."""


ALICE = Identity(sub="alice")


def _valid() -> dict[str, Any]:
    return {
        "entry": "classify",
        "nodes": [
            {"id": "classify", "kind": "llm", "prompt": "Classify: {input.ticket}", "system": "Be terse"},
            {
                "id": "route",
                "kind": "condition",
                "branches": [{"when": "lower(outputs.classify) == 'math'", "to": "solve"}],
                "default": "approve",
            },
            {
                "id": "solve",
                "kind": "agent",
                "instructions": "Solve {input.ticket}",
                "tools": ["calculator", "code_analyzer"],
            },
            {
                "id": "approve",
                "kind": "human",
                "prompt": "Send {outputs.classify}?",
                "input_schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
            },
            {"id": "search", "kind": "tool", "tool": "web_search", "arguments": {"query": "{input.ticket}"}},
        ],
        "edges": [
            {"from": "classify", "to": "route"},
            {"from": "solve", "to": "search"},
            {"from": "approve", "to": "search"},
            {"from": "search", "to": "END"},
        ],
    }


def problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        validate(ALICE, document)
    assert caught.value.code == "validation_failed"
    return [(item["field"], item["message"]) for item in caught.value.details]


def fields(document: dict[str, Any]) -> list[str]:
    return [field for field, _ in problems(document)]


def test_a_valid_definition_is_returned_parsed():
    definition = validate(ALICE, _valid())

    assert isinstance(definition, WorkflowDefinition)
    assert [node.id for node in definition.nodes] == ["classify", "route", "solve", "approve", "search"]


def test_a_loop_with_an_exit_is_fine():
    document = _valid()
    document["nodes"][1]["branches"].append({"when": "len(outputs.classify) > 100", "to": "classify"})

    validate(ALICE, document)


# ---------------------------------------------------------------- shape


def test_shape_errors_name_the_field_without_the_node_kind():
    document = _valid()
    document["nodes"][0]["prompt"] = ""
    document["nodes"][2]["max_iterations"] = 99
    document["edges"][1]["to"] = 5
    document["extra"] = True

    assert fields(document) == [
        "body.definition.nodes[0].prompt",
        "body.definition.nodes[2].max_iterations",
        "body.definition.edges[1].to",
        "body.definition.extra",
    ]


def test_an_unknown_node_kind_names_the_node():
    document = _valid()
    document["nodes"][4]["kind"] = "robot"

    ((field, message),) = problems(document)
    assert field == "body.definition.nodes[4]" and "'robot'" in message


def test_a_missing_edge_field_uses_its_alias():
    document = _valid()
    del document["edges"][0]["from"]

    assert fields(document) == ["body.definition.edges[0].from"]


def test_error_details_do_not_echo_the_input():
    document = _valid()
    document["nodes"][0]["temperature"] = "sk-secret-value"

    ((field, message),) = problems(document)
    assert field == "body.definition.nodes[0].temperature" and "sk-secret" not in message


# ---------------------------------------------------------------- graph


def test_duplicate_node_ids():
    document = _valid()
    document["nodes"].append(copy.deepcopy(document["nodes"][4]))

    assert problems(document) == [
        ("body.definition.nodes[5].id", "node id 'search' is used by nodes[4] already"),
    ]


def test_unknown_entry():
    document = _valid()
    document["entry"] = "start"

    assert problems(document) == [("body.definition.entry", "no node 'start' in this workflow")]


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        (("edges", 0, "to"), "routee", "body.definition.edges[0].to"),
        (("edges", 0, "from"), "classifier", "body.definition.edges[0].from"),
        (("nodes", 1, "branches", 0, "to"), "solver", "body.definition.nodes[1].branches[0].to"),
        (("nodes", 1, "default"), "aprove", "body.definition.nodes[1].default"),
    ],
)
def test_targets_that_name_an_unknown_node(where, value, field):
    document = _valid()
    container = document
    for key in where[:-1]:
        container = container[key]
    container[where[-1]] = value

    assert (field, f"no node {value!r} in this workflow") in problems(document)


def test_an_edge_from_end():
    document = _valid()
    document["edges"].append({"from": "END", "to": "classify"})

    assert problems(document) == [("body.definition.edges[4].from", "END ends the run: nothing leaves it")]


def test_an_edge_from_a_condition_node():
    document = _valid()
    document["edges"].append({"from": "route", "to": "END"})

    ((field, message),) = problems(document)
    assert field == "body.definition.edges[4].from"
    assert "'route' is a condition" in message


def test_a_node_without_an_outgoing_edge():
    document = _valid()
    del document["edges"][3]

    assert problems(document) == [
        (
            "body.definition.nodes[4]",
            "node 'search' has no outgoing edge: add an edge to END to finish there",
        ),
    ]


def test_a_node_with_two_outgoing_edges():
    document = _valid()
    document["edges"].append({"from": "classify", "to": "END"})

    ((field, message),) = problems(document)
    assert field == "body.definition.edges[4].from"
    assert "already leads to 'route' (edges[0])" in message and "condition" in message


def test_an_unreachable_node():
    document = _valid()
    document["nodes"].append({"id": "orphan", "kind": "llm", "prompt": "alone"})
    document["edges"].append({"from": "orphan", "to": "END"})

    assert problems(document) == [
        ("body.definition.nodes[5]", "node 'orphan' cannot be reached from the entry 'classify'"),
    ]


def test_a_loop_with_no_exit():
    document = _valid()
    # solve -> search -> solve: once in, never out.
    document["edges"][3] = {"from": "search", "to": "solve"}

    found = problems(document)
    # Only the loop's nodes: classify, route and approve merely lead into it.
    assert [field for field, _ in found] == ["body.definition.nodes[2]", "body.definition.nodes[4]"]
    assert found[0][1].startswith("node 'solve' never reaches END: it is in a loop with no exit")


def test_a_self_loop_with_no_exit():
    document = {
        "entry": "again",
        "nodes": [{"id": "again", "kind": "llm", "prompt": "more"}],
        "edges": [{"from": "again", "to": "again"}],
    }

    assert fields(document) == ["body.definition.nodes[0]"]


# ---------------------------------------------------------------- texts


@pytest.mark.parametrize(
    ("node", "key", "text", "field", "message"),
    [
        (0, "prompt", "Classify {input.ticket", "body.definition.nodes[0].prompt", "unclosed {"),
        (0, "system", "Be {terse}", "body.definition.nodes[0].system", "unknown root 'terse'"),
        (2, "instructions", "Solve }", "body.definition.nodes[2].instructions", "unmatched }"),
        (2, "prompt", "{}", "body.definition.nodes[2].prompt", "empty or malformed placeholder"),
        (3, "prompt", "{outputs.classify..x}", "body.definition.nodes[3].prompt", "malformed path"),
        (0, "prompt", "{outputs.later}", "body.definition.nodes[0].prompt", "{outputs.later} names no node"),
    ],
)
def test_bad_templates(node, key, text, field, message):
    document = _valid()
    document["nodes"][node][key] = text

    ((got_field, got_message),) = problems(document)
    assert got_field == field and message in got_message


def test_bad_templates_deep_in_tool_arguments():
    document = _valid()
    document["nodes"][4]["arguments"] = {"query": "ok {input.ticket}", "filters": [{"site": "{input.site"}]}

    assert fields(document) == ["body.definition.nodes[4].arguments.filters[0].site"]


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("outputs.classify ** 2", "** is not allowed"),
        ("__import__('os')", "only these functions"),
        ("outputs.classify.__class__", "'__class__' is not allowed"),
        ("outputs.classify ==", "invalid syntax"),
    ],
)
def test_bad_expressions(when, message):
    document = _valid()
    document["nodes"][1]["branches"][0]["when"] = when

    ((field, got_message),) = problems(document)
    assert field == "body.definition.nodes[1].branches[0].when" and message in got_message


def test_a_human_input_schema_that_is_not_a_json_schema():
    document = _valid()
    document["nodes"][3]["input_schema"] = {"type": "object", "properties": {"ok": {"type": "yes-or-no"}}}

    ((field, message),) = problems(document)
    assert field == "body.definition.nodes[3].input_schema.properties.ok.type"
    assert message.startswith("not a valid JSON schema")


@pytest.mark.parametrize(
    ("schema", "field", "message"),
    [
        ({"$ref": "https://example.com/answer.json"}, "input_schema.$ref", "points outside the schema"),
        (
            {"type": "object", "properties": {"ok": {"$ref": "#/$defs/missing"}}},
            "input_schema.properties.ok.$ref",
            "points at nothing in the schema",
        ),
        ({"items": {"$dynamicRef": "other.json#node"}}, "input_schema.items.$dynamicRef", "points outside"),
    ],
)
def test_a_human_input_schema_refers_only_inside_itself(schema, field, message):
    # An answer is checked against the schema alone: nothing is fetched, nothing dangles.
    document = _valid()
    document["nodes"][3]["input_schema"] = schema

    ((got_field, got_message),) = problems(document)
    assert got_field == f"body.definition.nodes[3].{field}"
    assert message in got_message


def test_a_human_input_schema_pattern_must_run_in_linear_time():
    document = _valid()
    document["nodes"][3]["input_schema"] = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^(?!0)[0-9]+$"}},
        "patternProperties": {"(a)\\1": {}},
    }

    found = dict(problems(document))

    assert set(found) == {
        "body.definition.nodes[3].input_schema.properties.code.pattern",
        "body.definition.nodes[3].input_schema.patternProperties",
    }
    assert all("lookarounds cannot run in linear time" in message for message in found.values())


def test_a_human_input_schema_may_use_patterns_that_would_backtrack_elsewhere():
    # RE2 runs ^(a+)+$ in linear time: nothing to refuse
    document = _valid()
    document["nodes"][3]["input_schema"] = {"type": "string", "pattern": "^(a+)+$"}

    assert validate(ALICE, document).nodes[3].input_schema == {"type": "string", "pattern": "^(a+)+$"}


def test_a_human_input_schema_may_refer_to_its_own_definitions():
    document = _valid()
    document["nodes"][3]["input_schema"] = {
        "$id": "https://auralink.example/approval.json",
        "$defs": {"flag": {"type": "boolean"}},
        "type": "object",
        "properties": {"ok": {"$ref": "#/$defs/flag"}, "again": {"$ref": "#"}},
    }

    assert validate(ALICE, document).nodes[3].input_schema == document["nodes"][3]["input_schema"]


# ---------------------------------------------------------------- tools (names only: no I/O)


def test_unknown_tool_names():
    document = _valid()
    document["nodes"][2]["tools"] = ["calculator", "shell"]
    document["nodes"][4]["tool"] = "mcp:no slash"

    found = problems(document)
    assert [field for field, _ in found] == [
        "body.definition.nodes[2].tools[1]",
        "body.definition.nodes[4].tool",
    ]
    assert all(
        "unknown tool" in message and "mcp:<connection name>/<tool>" in message for _, message in found
    )


def test_every_problem_is_reported_at_once():
    document = _valid()
    document["nodes"][0]["prompt"] = "{bad}"
    document["nodes"][1]["branches"][0]["when"] = "x"
    document["nodes"][2]["tools"] = ["shell"]
    document["entry"] = "nowhere"

    assert fields(document) == [
        "body.definition.entry",
        "body.definition.nodes[0].prompt",
        "body.definition.nodes[1].branches[0].when",
        "body.definition.nodes[2].tools[0]",
    ]

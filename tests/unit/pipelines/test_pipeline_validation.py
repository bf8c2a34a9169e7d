"""Validation of pipeline definitions without I/O (built-in tools, no model, workflow or team
named): the shape's paths and the rules of the texts. What needs the database is in
`tests/integration/pipelines`."""

from __future__ import annotations

from typing import Any

import pytest

from auralink.agents.pipelines.definition import PipelineDefinition
from auralink.agents.pipelines.validation import problems_without_lookups, validate
from auralink.auth import Identity
from auralink.errors import ValidationFailed

ALICE = Identity(sub="alice")


def _calculator(step_id: str, expression: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "kind": "tool",
        "tool": "calculator",
        "arguments": {"expression": expression},
        **fields,
    }


def problems(document: dict[str, Any], schema: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        validate(ALICE, document, schema)
    return [(item["field"], item["message"]) for item in caught.value.details]


@pytest.fixture(autouse=True)
def _settings(service_environment: pytest.MonkeyPatch) -> None:
    """The token cap comes from the settings."""


def test_a_valid_definition_is_returned_parsed_with_its_defaults():
    definition = validate(ALICE, {"steps": [_calculator("t", "6*7")]}, None)

    (step,) = definition.steps
    assert (step.retries, step.retry_delay_seconds, step.timeout_seconds, step.cache) == (0, 0, None, False)
    assert definition.output is None and definition.step("t") is step


@pytest.mark.parametrize(
    ("step", "field", "message"),
    [
        ({"id": "t", "kind": "tool", "tool": 5}, "steps[0].tool", "valid string"),
        ({"id": "t", "kind": "tool"}, "steps[0].tool", "Field required"),
        ({"id": "t"}, "steps[0]", "Unable to extract tag"),
        (
            {"id": "t", "kind": "llm", "prompt": "x", "temperature": 3},
            "steps[0].temperature",
            "less than or equal",
        ),
        ({"id": "t", "kind": "workflow", "workflow_id": "w1"}, "steps[0].workflow_id", "valid UUID"),
        (
            {"id": "t", "kind": "team", "team_id": "3f1c2a4e-8b7d-4c6a-9e5f-1a2b3c4d5e6f"},
            "steps[0].task_description",
            "Field required",
        ),
        (
            {"id": "m", "kind": "map", "over": "{parameters.x}", "concurrency": 1, "step": {"kind": "llm"}},
            "steps[0].step.prompt",
            "Field required",
        ),
        (
            {
                "id": "m",
                "kind": "map",
                "over": "{parameters.x}",
                "concurrency": 1,
                "timeout_seconds": 5,
                "step": {"kind": "llm", "prompt": "{item}"},
            },
            "steps[0].timeout_seconds",
            "set timeout_seconds on step",
        ),
        (
            {
                "id": "m",
                "kind": "map",
                "over": "{parameters.x}",
                "concurrency": 1,
                "step": {"kind": "llm", "prompt": "{item}", "depends_on": []},
            },
            "steps[0].step.depends_on",
            "the map step has them",
        ),
        (
            {"id": "c", "kind": "condition", "expression": "true", "retries": 1},
            "steps[0].retries",
            "no retries",
        ),
        (_calculator("t", "1", arguments={"x": "y" * 70_000}), "steps[0].arguments", "65536 bytes"),
    ],
)
def test_shape_problems_are_named_by_their_path_without_the_kind(step, field, message):
    found = problems({"steps": [step]})

    matching = [text for path, text in found if path == f"body.definition.{field}"]
    assert matching and message in matching[0], found


def test_a_definition_without_steps_is_refused():
    assert problems({"steps": []})[0][0] == "body.definition.steps"
    assert problems({})[0] == ("body.definition.steps", "Field required")


def test_the_texts_of_a_map_name_its_item_and_what_the_map_waits_for():
    document = {
        "steps": [
            _calculator("base", "1"),
            {
                "id": "each",
                "kind": "map",
                "depends_on": ["base"],
                "over": "{parameters.rows}",
                "concurrency": 4,
                "step": {"kind": "llm", "prompt": "{item.text} after {steps.base.output}"},
            },
            _calculator("last", "{steps.each.output[0]}", depends_on=["each"]),
        ],
        "output": ["{steps.last.output}", {"all": "{steps.each.output}"}],
    }

    assert problems_without_lookups(PipelineDefinition.model_validate(document)) == []


def test_a_parameters_schema_without_properties_names_none():
    document = {"steps": [_calculator("t", "{parameters.anything}")]}
    parsed = PipelineDefinition.model_validate(document)

    assert problems_without_lookups(parsed, {"type": "object"}) == []
    (problem,) = problems_without_lookups(parsed, {"properties": {"other": {}}})
    assert problem["field"] == "body.definition.steps[0].arguments.expression"
    assert problem["message"] == (
        "{parameters.anything}: no parameter 'anything' among the properties of parameters_schema"
    )


@pytest.mark.parametrize(
    ("over", "schema", "message"),
    [
        ("{parameters}", None, "the parameters are an object, not a list"),
        ("{parameters.rows}", {"properties": {"rows": {"type": ["string", "null"]}}}, "a string or null"),
        ("{parameters[0]}", None, "name one as parameters.<name>"),
        ("{steps}", None, "name one step's output"),
    ],
)
def test_what_a_map_goes_over(over, schema, message):
    document = {
        "steps": [{"id": "m", "kind": "map", "over": over, "concurrency": 1, "step": _inner()}],
    }

    (problem,) = problems_without_lookups(PipelineDefinition.model_validate(document), schema)

    assert problem["field"] == "body.definition.steps[0].over" and message in problem["message"]


def _inner() -> dict[str, Any]:
    return {"kind": "tool", "tool": "calculator", "arguments": {"expression": "{item}"}}


def test_over_may_name_a_list_parameter_or_any_untyped_one():
    for schema in ({"properties": {"rows": {"type": "array"}}}, {"properties": {"rows": {}}}, None):
        document = {
            "steps": [
                {"id": "m", "kind": "map", "over": "{parameters.rows}", "concurrency": 1, "step": _inner()}
            ]
        }
        assert problems_without_lookups(PipelineDefinition.model_validate(document), schema) == []

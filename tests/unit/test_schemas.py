"""Schemas from outside: patterns on RE2, references only inside the schema, problems by path.

The hostile cases would run for hours on Python's backtracking `re` (``^(a+)+$`` takes about 2**n
steps against n a's and a "!"); the tests assert the answers.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from auralink import schemas
from auralink.errors import ValidationFailed
from auralink.mcp import arguments
from auralink.mcp.client import _names_unknown_tool

CATASTROPHIC = "^(a+)+$"
LONG_A = "a" * 100_000 + "!"


def text_schema(**text: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"text": {"type": "string", **text}}}


def test_a_catastrophic_pattern_is_answered_not_backtracked() -> None:
    schema = text_schema(pattern=CATASTROPHIC)

    assert schemas.problems(schema) == []
    (error,) = schemas.errors(schema, {"text": LONG_A})
    assert error.validator == "pattern" and list(error.absolute_path) == ["text"]
    assert schemas.errors(schema, {"text": "aaaa"}) == []


@pytest.mark.parametrize(
    ("schema", "long_key_refused"),
    [
        # the long key matches no pattern: nothing applies to it
        ({"type": "object", "patternProperties": {CATASTROPHIC: {"type": "integer"}}}, False),
        ({"type": "object", "patternProperties": {CATASTROPHIC: True}, "additionalProperties": False}, True),
        ({"type": "object", "propertyNames": {"pattern": CATASTROPHIC}}, True),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "patternProperties": {CATASTROPHIC: {"type": "integer"}},
                "additionalProperties": {"type": "integer"},
            },
            True,
        ),
    ],
)
def test_patterns_on_property_names_run_on_re2_too(schema: dict[str, Any], long_key_refused: bool) -> None:
    assert schemas.problems(schema) == []
    assert bool(schemas.errors(schema, {LONG_A: "x"})) is long_key_refused
    assert schemas.errors(schema, {"aaaa": 1}) == []


def test_patterns_follow_json_schema_search_semantics_on_unicode() -> None:
    schema = text_schema(pattern="caf\u00e9")
    assert schemas.errors(schema, {"text": "un caf\u00e9 noir"}) == []
    assert schemas.errors(schema, {"text": "cafe"})


@pytest.mark.parametrize(
    ("pattern", "where"),
    [
        ("(a)\\1", ("properties", "text", "pattern")),
        ("^(?=.*[0-9]).+$", ("properties", "text", "pattern")),
        ("(?<!x)y", ("properties", "text", "pattern")),
    ],
)
def test_a_pattern_re2_cannot_run_is_an_unsupported_problem_at_its_path(
    pattern: str, where: tuple[str, ...]
) -> None:
    (problem,) = schemas.problems(text_schema(pattern=pattern))

    assert problem.unsupported and problem.path == where
    assert "backreferences and lookarounds" in problem.message


def test_a_pattern_property_key_re2_cannot_run_is_refused() -> None:
    (problem,) = schemas.problems({"type": "object", "patternProperties": {"(?=x)": {}}})
    assert problem.unsupported and problem.path == ("patternProperties",)


def test_an_old_drafts_pattern_property_key_is_refused_when_it_is_used() -> None:
    # draft 4's meta-schema does not mark patternProperties keys as regexes
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "patternProperties": {"(?=x)": {}}}
    with pytest.raises(schemas.UnsupportedSchema) as refused:
        schemas.errors(schema, {"x": 1})
    assert refused.value.code == "unsupported_schema"


@pytest.mark.parametrize(
    "reference",
    [
        "https://evil.example/schema.json",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "other.json#/definitions/x",
        "urn:example:thing",
    ],
)
def test_a_reference_outside_the_schema_is_refused(reference: str) -> None:
    schema = {"type": "object", "properties": {"a": {"prefixItems": [{"$ref": reference}]}}}

    (problem,) = schemas.problems(schema)

    assert problem.unsupported and problem.path == ("properties", "a", "prefixItems", 0, "$ref")
    assert "points outside the schema" in problem.message


def test_references_inside_the_schema_are_followed_and_data_is_not_read_as_keywords() -> None:
    schema = {
        "$defs": {"word": {"type": "string", "pattern": "^[a-z]+$"}},
        "type": "object",
        "properties": {"w": {"$ref": "#/$defs/word"}, "$ref": {"type": "string"}},
        "default": {"$ref": "https://not.a.reference.example/"},
        "examples": [{"pattern": "(a)\\1"}],
    }

    assert schemas.problems(schema) == []
    assert schemas.errors(schema, {"w": "abc"}) == []
    assert [error.validator for error in schemas.errors(schema, {"w": "ABC"})] == ["pattern"]


def test_a_reference_to_nothing_is_a_problem_but_not_an_unsupported_one() -> None:
    (problem,) = schemas.problems({"$ref": "#/$defs/missing"})
    assert not problem.unsupported and "points at nothing" in problem.message


def test_validation_never_fetches_even_without_a_check_first() -> None:
    with pytest.raises(schemas.UnsupportedSchema):
        schemas.errors({"$ref": "http://127.0.0.1:9/never-fetched.json"}, {})


def test_unevaluated_properties_beside_pattern_properties_is_refused() -> None:
    schema = {"patternProperties": {"^a": {}}, "allOf": [{"unevaluatedProperties": False}]}
    (problem,) = schemas.problems(schema)
    assert problem.unsupported and problem.path == ("allOf", 0, "unevaluatedProperties")


def test_an_invalid_schema_is_a_problem_that_is_not_unsupported() -> None:
    (problem,) = schemas.problems({"type": "nope"})
    assert not problem.unsupported and problem.path == ("type",)


def test_tool_arguments_under_a_hostile_schema() -> None:
    with pytest.raises(schemas.UnsupportedSchema) as refused:
        arguments.check({"text": "x"}, text_schema(pattern="(?=x)"), tool="lookahead")
    assert refused.value.details[0]["field"] == "input_schema.properties.text.pattern"

    with pytest.raises(ValidationFailed) as invalid:
        arguments.check({"text": LONG_A}, text_schema(pattern=CATASTROPHIC), tool="match")
    assert invalid.value.code == "invalid_tool_arguments"


# ---------------------------------------------------------------- server error text


@pytest.mark.parametrize(
    ("message", "unknown"),
    [
        ("Unknown tool: search", True),
        ("tool 'search' not found", True),
        ("No such tool", True),
        ("the tool ran but the file was not found", True),
        ("invalid arguments", False),
        ("tool " * 2_000_000, False),  # 10 MB that made the old pattern quadratic
        ("tool " * 2_000_000 + "not found", False),  # past what is read
        ("Unknown tool: x." + " tool" * 2_000_000, True),
    ],
    ids=["spec", "not-found", "no-such", "within-reach", "other", "megabytes", "far", "padded"],
)
def test_the_unknown_tool_check_reads_a_bounded_prefix(message: str, unknown: bool) -> None:
    assert _names_unknown_tool(MCPError(code=INVALID_PARAMS, message=message)) is unknown

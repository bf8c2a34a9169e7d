"""Templates: placeholders, escapes, paths, and what a missing path says at run time."""

from __future__ import annotations

import pytest

from auralink.agents.workflows.templates import (
    TemplateError,
    check,
    parse_path,
    render,
    render_value,
    strings_in,
)

STATE = {
    "input": {"name": "Ada", "count": 3, "tags": ["x", "y"], "flag-1": True},
    "outputs": {
        "ask": "Hello Ada",
        "search": {"results": [{"title": "First", "score": 0.5}, {"title": "Second"}]},
        "review": {"approved": False, "notes": None},
    },
}


@pytest.mark.parametrize(
    ("template", "paths"),
    [
        ("no placeholders", []),
        ("Say hi to {input.name}", ["input.name"]),
        (
            "{outputs.ask} and {outputs.search.results[0].title}",
            ["outputs.ask", "outputs.search.results[0].title"],
        ),
        ("{input}", ["input"]),
        ("{outputs}", ["outputs"]),
        ("{input.flag-1}", ["input.flag-1"]),
        ('JSON like {{"a": {input.count}}}', ["input.count"]),
        ("{{input.name}}", []),
        ("", []),
    ],
)
def test_check_returns_the_paths(template, paths):
    assert check(template) == paths


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Say hi to {input.name", "unclosed {"),
        ("a { b", "unclosed {"),
        ("{input.{name}}", "unclosed {"),
        ("oops }", "unmatched }"),
        ("{input.name}}", "unmatched }"),
        ("{}", "empty or malformed placeholder"),
        ("{ input.name }", "empty or malformed placeholder"),
        ("{state.name}", "unknown root 'state'"),
        ("{__class__}", "unknown root '__class__'"),
        ("{input..name}", "malformed path"),
        ("{input.name.}", "malformed path"),
        ("{input[x]}", "malformed path"),
        ("{input[-1]}", "malformed path"),
        ("{input.tags[0}", "malformed path"),
        ("{input name}", "malformed path"),
        ("{input.__class__.x y}", "malformed path"),
    ],
)
def test_check_refuses_malformed_templates(template, message):
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        check(template)


def test_template_errors_are_value_errors():
    assert issubclass(TemplateError, ValueError)


def test_parse_path_splits_keys_and_indices():
    assert parse_path("outputs.search.results[1].title") == ("outputs", "search", "results", 1, "title")
    assert parse_path("input[0][2]") == ("input", 0, 2)


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("Say hi to {input.name}", "Say hi to Ada"),
        ("{input.count} items", "3 items"),
        ("tags: {input.tags}", 'tags: ["x","y"]'),
        ("{outputs.search.results[0]}", '{"title":"First","score":0.5}'),
        ("{outputs.search.results[1].title}", "Second"),
        ("{outputs.review.approved}/{outputs.review.notes}", "false/null"),
        ("{input.flag-1}", "true"),
        ("{{literal}} {{{input.name}}}", "{literal} {Ada}"),
        ("plain", "plain"),
    ],
)
def test_render_substitutes_values(template, rendered):
    assert render(template, STATE) == rendered


def test_render_keeps_non_ascii_text_as_is():
    assert render("{input.name}", {"input": {"name": "Zoë ✓"}, "outputs": {}}) == "Zoë ✓"


@pytest.mark.parametrize(
    ("template", "missing"),
    [
        ("{input.surname}", "input.surname is missing"),
        ("{outputs.later}", "outputs.later is missing"),
        ("{outputs.search.results[5].title}", r"outputs.search.results\[5\] is missing"),
        ("{input.name.first}", "input.name.first is missing"),
        ("{input.tags.x}", "input.tags.x is missing"),
        ("{input[0]}", r"input\[0\] is missing"),
    ],
)
def test_a_missing_path_names_itself(template, missing):
    with pytest.raises(TemplateError, match=missing):
        render(template, STATE)


def test_render_value_renders_every_string_at_any_depth():
    arguments = {
        "query": "about {input.name}",
        "limit": 5,
        "filters": [{"tag": "{input.tags[1]}"}, None, True],
        "{input.name}": "keys are left alone",
    }

    assert render_value(arguments, STATE) == {
        "query": "about Ada",
        "limit": 5,
        "filters": [{"tag": "y"}, None, True],
        "{input.name}": "keys are left alone",
    }


def test_strings_in_yields_each_string_with_its_path():
    value = {"q": "a", "n": 1, "list": ["b", {"deep": "c"}]}

    assert list(strings_in(value)) == [(".q", "a"), (".list[0]", "b"), (".list[1].deep", "c")]

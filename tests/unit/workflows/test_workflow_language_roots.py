"""The workflow language over other roots: a pipeline's templates and conditions name
``parameters``, ``steps`` and ``item`` with the same parser, and the lookups of an expression can
be listed for checking what they name."""

from __future__ import annotations

import pytest

from auralink.agents.workflows import expressions, templates
from auralink.agents.workflows.templates import Roots

ROOTS = Roots(names=("parameters", "steps", "item"), shown=("parameters.<name>", "steps.<id>.output", "item"))
STATE = {
    "parameters": {"topic": "WebRTC", "items": [1, 2]},
    "steps": {"fetch": {"output": {"results": [{"title": "RFC 8825"}]}}},
    "item": {"name": "Ada"},
}


def test_templates_render_over_other_roots():
    text = "{parameters.topic}: {steps.fetch.output.results[0].title} for {item.name}"

    assert templates.check(text, ROOTS) == [
        "parameters.topic",
        "steps.fetch.output.results[0].title",
        "item.name",
    ]
    assert templates.render(text, STATE, roots=ROOTS) == "WebRTC: RFC 8825 for Ada"
    assert templates.render_value({"n": ["{parameters.items}"]}, STATE, roots=ROOTS) == {"n": ["[1,2]"]}


def test_other_roots_are_refused_and_listed():
    with pytest.raises(templates.TemplateError, match="paths start with parameters, steps or item"):
        templates.check("{input.name}", ROOTS)
    # The workflows' own roots are unchanged.
    with pytest.raises(templates.TemplateError, match="paths start with input or outputs"):
        templates.check("{parameters.topic}")
    with pytest.raises(templates.TemplateError, match=r"steps\.nope is missing"):
        templates.render("{steps.nope.output}", STATE, roots=ROOTS)


def test_expressions_evaluate_over_other_roots():
    assert expressions.evaluate("len(parameters.items) == 2 and exists(steps.fetch.output)", STATE, ROOTS)
    assert expressions.evaluate("steps.later.output.ok == true", STATE, ROOTS) is False
    with pytest.raises(expressions.ExpressionError, match=r"use parameters.<name>, steps.<id>.output, item"):
        expressions.check("outputs.x", ROOTS)
    with pytest.raises(expressions.ExpressionError, match=r"use input.<key>, outputs.<node id>, true"):
        expressions.check("parameters.x")


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ("true", []),
        ("steps.check.output.ok == true", [("steps", "check", "output", "ok")]),
        (
            "len(steps['a'].output[0].tags) > 1 or parameters.limit < 3",
            [("steps", "a", "output", 0, "tags"), ("parameters", "limit")],
        ),
        # A lookup stops where it stops being constant.
        ("steps.a.output[-1] == item", [("steps", "a", "output"), ("item",)]),
        (
            "lower(steps.b.output.name) in [parameters.x, 'y']",
            [("steps", "b", "output", "name"), ("parameters", "x")],
        ),
    ],
)
def test_the_lookups_of_an_expression_in_the_order_written(expression, found):
    assert expressions.lookups(expression, ROOTS) == found


def test_lookups_refuse_what_check_refuses():
    with pytest.raises(expressions.ExpressionError, match="unknown name 'os'"):
        expressions.lookups("os.system", ROOTS)

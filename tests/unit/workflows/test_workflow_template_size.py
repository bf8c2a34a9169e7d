"""A template that would multiply a large value is refused while it is rendered, before the text exists."""

from __future__ import annotations

import json

import pytest

from auralink.agents.workflows.templates import TemplateTooLarge, render, render_value

BIG = "x" * 10_000
STATE = {
    "input": {"note": "hi"},
    "outputs": {"a": BIG, "rows": [{"n": n, "text": "y" * 50} for n in range(400)]},
}


def test_a_rendering_within_its_size_is_whole():
    assert render("{outputs.a}!", STATE, max_chars=10_001) == BIG + "!"
    assert render_value({"x": ["{input.note}", "{input.note}"]}, STATE, max_chars=4) == {"x": ["hi", "hi"]}


@pytest.mark.parametrize(
    "template",
    [
        "{outputs.a}{outputs.a}{outputs.a}",  # one value, repeated
        "{outputs.rows}{outputs.rows}",  # data, as JSON
        "intro " + "{outputs.a}" * 1000,  # a thousand times: never built
    ],
)
def test_a_template_that_multiplies_a_value_past_the_size_is_refused(template):
    with pytest.raises(TemplateTooLarge) as raised:
        render(template, STATE, max_chars=25_000)

    assert raised.value.code == "template_too_large"
    assert "25000 characters" in str(raised.value)


def test_a_large_value_is_refused_without_being_made_into_text_whole():
    rows = STATE["outputs"]["rows"]
    assert len(json.dumps(rows, separators=(",", ":"))) > 20_000

    with pytest.raises(TemplateTooLarge):
        render("{outputs.rows}", STATE, max_chars=1_000)


def test_the_strings_of_a_value_share_one_size():
    arguments = {"q": ["{outputs.a}", "{outputs.a}"], "r": "{outputs.a}"}

    assert render_value({"q": "{outputs.a}"}, STATE, max_chars=10_000) == {"q": BIG}
    with pytest.raises(TemplateTooLarge):
        render_value(arguments, STATE, max_chars=25_000)


def test_literal_text_counts_too():
    with pytest.raises(TemplateTooLarge):
        render("z" * 101, STATE, max_chars=100)

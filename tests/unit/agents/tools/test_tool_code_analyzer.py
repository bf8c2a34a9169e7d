"""The code analyzer: known complexity numbers for Python, text statistics for the rest."""

from __future__ import annotations

import textwrap

import pytest

from auralink.agents.tools.base import ToolError
from auralink.agents.tools.code_analyzer import MAX_SOURCE_BYTES, PythonAnalysis, TextAnalysis, analyze

SAMPLE = textwrap.dedent(
    '''\
    """A module."""
    import os, sys
    from collections import abc
    from . import sibling
    from ..parent.module import thing

    # A comment line.

    LIMIT = 3 if os.name == "nt" else 4


    class Shape:
        sides = 0

        def area(self, scale, *rest, unit="m", **options):
            if scale and rest or unit:
                return [value for value in rest if value]
            elif scale:
                return None
            return 0

        async def fetch(self):
            async for item in self.stream():
                yield item


    def classify(number):
        """Say what a number is.

        # This line is inside a docstring, not a comment.
        """
        try:
            value = int(number)
        except ValueError:
            return "nan"
        except TypeError:
            return "none"

        def helper(x):
            while x > 0:
                x -= 1
            return x

        match value:
            case 0:
                return "zero"
            case _:
                assert value, "unreachable"
                return "other"  # trailing comment
    '''
)


def test_python_functions_classes_imports_and_complexity() -> None:
    analysis = analyze(SAMPLE)

    assert isinstance(analysis, PythonAnalysis)
    functions = {function.name: function for function in analysis.functions}
    assert list(functions) == ["Shape.area", "Shape.fetch", "classify", "classify.helper"]
    # if (1) + `and`/`or` (2) + comprehension for and if (2) + elif (1), plus 1.
    assert (functions["Shape.area"].complexity, functions["Shape.area"].args) == (7, 5)
    assert functions["Shape.area"].line == 15
    assert (functions["Shape.fetch"].complexity, functions["Shape.fetch"].is_async) == (2, True)
    # two excepts, two cases, an assert; helper's while counts for helper only.
    assert functions["classify"].complexity == 6
    assert functions["classify.helper"].complexity == 2
    assert [(c.name, c.line, c.methods) for c in analysis.classes] == [("Shape", 12, ["area", "fetch"])]
    assert analysis.imports == ["os", "sys", "collections", ".", "..parent.module"]
    # The module's own code: 1 + the conditional expression of LIMIT.
    assert analysis.module_complexity == 2
    assert analysis.total_complexity == 2 + 7 + 2 + 6 + 2


def test_python_line_counts_know_comments_from_strings() -> None:
    lines = analyze(SAMPLE, "Python").lines

    assert lines.total == len(SAMPLE.splitlines()) == 49
    assert lines.comment == 1  # the docstring's "#" line and the trailing comment are code lines
    assert lines.blank == 10  # the empty line inside the docstring is code
    assert lines.code == 38


def test_other_languages_get_line_and_character_statistics() -> None:
    source = 'package main\n\nfunc main() {\n\tprintln("hi")\n}\n'

    analysis = analyze(source, "Go")

    assert analysis == TextAnalysis(language="go", lines=5, blank=1, characters=len(source), longest_line=14)


def test_empty_python_is_a_module_with_nothing_in_it() -> None:
    analysis = analyze("")

    assert isinstance(analysis, PythonAnalysis)
    assert (analysis.functions, analysis.total_complexity, analysis.lines.total) == ([], 1, 0)


@pytest.mark.parametrize(
    ("source", "line"),
    [("def broken(:\n    pass\n", 1), ("x = 1\ny = (\n", 2), ("if True:\nprint(1)\n", 2)],
)
def test_unparsable_python_names_the_line(source: str, line: int) -> None:
    with pytest.raises(ToolError) as raised:
        analyze(source)

    assert raised.value.code == "syntax_error"
    assert f"(line {line})" in raised.value.message


def test_null_bytes_and_deep_nesting_are_syntax_errors_too() -> None:
    for source in ("x = 1\x00", "x = " + "(" * 5000 + ")" * 5000):
        with pytest.raises(ToolError) as raised:
            analyze(source)
        assert raised.value.code == "syntax_error"


def test_the_source_size_is_bounded() -> None:
    with pytest.raises(ToolError) as raised:
        analyze("#" * (MAX_SOURCE_BYTES + 1), "text")

    assert raised.value.code == "source_too_large"

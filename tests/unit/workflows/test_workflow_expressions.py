"""Condition expressions: what they mean, what they refuse, and that nothing else can happen."""

from __future__ import annotations

import builtins
import contextlib
import sys

# The parser's own module for identifiers, loaded before any guard is in place (see no_code_runs).
import unicodedata  # noqa: F401
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auralink.agents.workflows.definition import Branch, ConditionNode
from auralink.agents.workflows.expressions import (
    MAX_LENGTH,
    ExpressionError,
    check,
    evaluate,
    route,
    truthy,
)

STATE: dict[str, Any] = {
    "input": {"name": "Ada", "count": 3, "ratio": 0.5, "tags": ["urgent", "billing"], "empty": ""},
    "outputs": {
        "classify": "Billing",
        "review": {"approved": True, "score": "7.5", "notes": None},
        "search": {"results": [{"title": "First"}, {"title": "Second"}]},
    },
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("true", True),
        ("false or null", None),
        ("True and 1", 1),
        ("42", 42),
        ("'text'", "text"),
        ("input.name == 'Ada'", True),
        ("input['name'] == \"Ada\"", True),
        ("input.count > 2 and input.count <= 3", True),
        ("1 < input.count < 3", False),
        ("0 < input.ratio < 1", True),
        ("input.count != 3", False),
        ("'urgent' in input.tags", True),
        ("'spam' not in input.tags", True),
        ("'Bil' in outputs.classify", True),
        ("'approved' in outputs.review", True),
        ("'x' in outputs.missing", False),
        ("outputs.review.approved == true", True),
        ("outputs.absent.approved == true", False),
        ("outputs.review.notes == null", True),
        ("outputs.search.results[1].title", "Second"),
        ("outputs.search.results[-1].title", "Second"),
        ("outputs.search.results[9].title", None),
        ("input.tags[0]", "urgent"),
        ("input.name.first", None),
        ("input.count._private", None),
        ("not input.empty", True),
        ("not outputs.review", False),
        ("-input.count + 10", 7),
        ("+input.ratio", 0.5),
        ("input.count * 2 - 1", 5),
        ("input.count / 2", 1.5),
        ("input.count % 2 == 1", True),
        ("len(input.tags) == 2", True),
        ("len(outputs.nothing)", 0),
        ("len(outputs.review)", 3),
        ("lower(outputs.classify) == 'billing'", True),
        ("upper(input.name)", "ADA"),
        ("lower(outputs.nothing)", None),
        ("contains(input.tags, 'billing')", True),
        ("contains(outputs.classify, 'ill')", True),
        ("contains(outputs.nothing, 'x')", False),
        ("startswith(input.name, 'A') and endswith(input.name, 'a')", True),
        ("startswith(outputs.nothing, 'A')", False),
        ("number(outputs.review.score) >= 7", True),
        ("number('12') + 1", 13),
        ("number(input.ratio)", 0.5),
        ("exists(outputs.review) and not exists(outputs.later)", True),
        ("outputs.later or 'fallback'", "fallback"),
        ("[1, 2] == [1, 2]", True),
        ("(1, 'a')", [1, "a"]),
        ("input.count in [1, 2, 3]", True),
        ("true == 1", False),
        ("1 == 1.0", True),
        ("'a' < 'b'", True),
        ("input.tags == ['urgent', 'billing']", True),
    ],
)
def test_allowed_expressions_and_their_values(expression, value):
    check(expression)
    result = evaluate(expression, STATE)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * (MAX_LENGTH + 1), "longer than"),
        ("input.count ** 2", r"\*\* is not allowed"),
        ("__import__('os')", "only these functions"),
        ("open('/etc/passwd')", "only these functions"),
        ("eval('1')", "only these functions"),
        ("exec('1')", "only these functions"),
        ("input.count.bit_length()", "only these functions"),
        ("(lambda: 1)()", "only these functions"),
        ("lambda: 1", "lambdas"),
        ("input.__class__", "'__class__' is not allowed"),
        ("outputs.__dict__", "'__dict__' is not allowed"),
        ("().__class__.__bases__", "'__bases__' is not allowed"),
        ("[x for x in input.tags]", "comprehensions"),
        ("{x for x in input.tags}", "comprehensions"),
        ("(x for x in input.tags)", "comprehensions"),
        ("{k: 1 for k in input.tags}", "comprehensions"),
        ("f'{input.name}'", "f-strings"),
        ("[*input.tags]", r"\* unpacking"),
        ("len(*input.tags)", r"\* unpacking"),
        ("(y := 1)", ":= is not allowed"),
        ("1 if true else 2", "conditional expressions"),
        ("{'a': 1}", "object literals"),
        ("{1, 2}", "set literals"),
        ("input.tags[0:1]", "constant subscripts"),
        ("input.tags[input.count]", "constant subscripts"),
        ("input[true]", "constant subscripts"),
        ("name", "unknown name 'name'"),
        ("len", "unknown name 'len'"),
        ("os.system", "unknown name 'os'"),
        ("input is null", "'is' is not allowed"),
        ("input.count // 2", r"only \+ - \* / %"),
        ("input.count << 2", r"only \+ - \* / %"),
        ("input.count & 1", r"only \+ - \* / %"),
        ("~input.count", "only not, unary"),
        ("len(input.tags, 2)", "takes 1 argument"),
        ("contains(input.tags)", "takes 2 arguments"),
        ("len(obj=input.tags)", "no keyword arguments"),
        ("b'bytes'", "bytes literals"),
        ("1j", "complex literals"),
        ("...", "ellipsis literals"),
        ("1e999", "too large"),
        ("10000000000000000000000000000000000", "too large"),
        ("await input", "await"),
        ("input.name = 1", "invalid syntax"),
        ("import os", "invalid syntax"),
        ("1; 2", "invalid syntax"),
        ("(" * 300 + ")" * 300, "invalid syntax"),
        ("not " * 300 + "true", "too complex"),
        ("-" * 1999 + "1", "too complex|invalid syntax"),
        ("\x00", "invalid syntax"),
        ("'\ud800'", "invalid syntax|surrogate|Constant|str literals"),
    ],
)
def test_refused_expressions_say_why(expression, message):
    with pytest.raises(ExpressionError, match=message):
        check(expression)
    with pytest.raises(ExpressionError):
        evaluate(expression, STATE)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("'a' < 1", "cannot compare a string with a number"),
        ("input.count < null", "cannot compare a number with a null"),
        ("true < 2", "cannot compare a boolean with a number"),
        ("input.tags < 'a'", "cannot compare a list"),
        ("input.name + 1", r"\+ needs numbers"),
        ("'a' + 'b'", r"\+ needs numbers"),
        ("input.count / 0", "division by zero"),
        ("input.count % 0", "division by zero"),
        ("-input.name", "unary minus and plus need a number"),
        ("1 in input.name", "'in' a string needs a string"),
        ("'a' in input.count", "'in' needs a string, list or object"),
        ("len(input.count)", "len\\(\\) needs"),
        ("lower(input.count)", "lower\\(\\) needs a string"),
        ("startswith(input.name, 1)", "startswith\\(\\) needs two strings"),
        ("number('abc')", "cannot convert a string"),
        ("number(null)", "cannot convert a null"),
        ("number('inf')", "cannot convert"),
        ("number(true)", "cannot convert a boolean"),
        ("9999999999999999999999999999 * 9999999999", "too large"),
        ("number('1e308') * 10", "too large|overflow"),
    ],
)
def test_type_errors_at_run_time_are_expression_errors(expression, message):
    check(expression)
    with pytest.raises(ExpressionError, match=message):
        evaluate(expression, STATE)


def test_a_non_string_is_refused():
    with pytest.raises(ExpressionError, match="is a string"):
        check(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        (0, False),
        (0.0, False),
        ("", False),
        ([], False),
        ({}, False),
        (True, True),
        (1, True),
        (-0.5, True),
        ("false", True),
        ([0], True),
        ({"a": None}, True),
    ],
)
def test_truthy_follows_json(value, expected):
    assert truthy(value) is expected


def _condition(*branches: tuple[str, str], default: str = "END") -> ConditionNode:
    return ConditionNode(
        id="decide",
        kind="condition",
        branches=[Branch(when=when, to=to) for when, to in branches],
        default=default,
    )


def test_route_takes_the_first_branch_that_holds():
    node = _condition(
        ("outputs.review.approved == false", "redo"),
        ("'billing' in input.tags", "billing"),
        ("true", "other"),
    )
    assert route(node, STATE) == "billing"


def test_route_falls_back_to_the_default():
    node = _condition(("outputs.later.done", "x"), ("len(input.tags) > 5", "y"), default="fallback")
    assert route(node, STATE) == "fallback"


def test_route_on_an_empty_state_treats_everything_as_absent():
    node = _condition(("outputs.review.approved == true", "publish"), default="revise")
    assert route(node, {"input": {}, "outputs": {}}) == "revise"


# ---------------------------------------------------------------- properties


class CodeRan(BaseException):
    """Raised by the guards: a BaseException, so that no `except Exception` can swallow it."""


@contextlib.contextmanager
def no_code_runs() -> Iterator[list[str]]:
    """Replace the builtins that run or load code; record (and stop) any use of them.

    Python's parser itself asks for `unicodedata` (to normalise non-ASCII identifiers): handing
    back a module that is loaded already runs no code, so only a new module counts.
    """
    calls: list[str] = []
    originals = {name: getattr(builtins, name) for name in ("__import__", "open", "eval", "exec")}

    def guard(name: str):
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if name == "__import__" and args and args[0] in sys.modules:
                return originals[name](*args, **kwargs)
            calls.append(f"{name}{args[:1]!r}")
            raise CodeRan(name)

        return guarded

    for name in originals:
        setattr(builtins, name, guard(name))
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(builtins, name, original)


def _attempt(expression: str, state: dict[str, Any]) -> None:
    with no_code_runs() as calls:
        try:
            check(expression)
            evaluate(expression, state)
        except ExpressionError:
            pass
    assert calls == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
states = st.fixed_dictionaries(
    {
        "input": st.dictionaries(st.sampled_from(["a", "b", "name", "n", "tags"]), json_values, max_size=5),
        "outputs": st.dictionaries(st.sampled_from(["x", "y", "review"]), json_values, max_size=3),
    }
)

_ATOMS = [
    "input",
    "outputs",
    "input.a",
    "input.name",
    "input.tags[0]",
    "input['b']",
    "outputs.x",
    "outputs.review.approved",
    "outputs.y[-1]",
    "true",
    "false",
    "null",
    "0",
    "1",
    "-2",
    "3.5",
    "'a'",
    '"text"',
    "[1, 'a']",
]
_JUNK = [
    "__import__",
    "__class__",
    "__globals__",
    "__builtins__",
    "os",
    "sys",
    "open",
    "eval",
    "exec",
    "compile",
    "getattr",
    "lambda",
    "for",
    "if",
    "else",
    "import",
    "yield",
    "await",
    "**",
    "//",
    "@",
    ":=",
    "*",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    ";",
    "'",
    '"',
    "\\",
    "\n",
    "f'",
    "b'",
    "#",
    "~",
    "^",
    "|",
    "&",
    "is",
    "...",
    "1e999",
    "9" * 40,
]
_OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "and", "or", "+", "-", "*", "/", "%"]
_FUNCTIONS_1 = ["len", "lower", "upper", "number", "exists"]
_FUNCTIONS_2 = ["contains", "startswith", "endswith"]


def _grammar(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(_OPERATORS), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"(not {c})"),
        children.map(lambda c: f"-({c})"),
        st.tuples(st.sampled_from(_FUNCTIONS_1), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(_FUNCTIONS_2), children, children).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(children, st.sampled_from(["a", "name", "approved", "__class__"])).map(
            lambda t: f"({t[0]}).{t[1]}"
        ),
        st.tuples(children, st.sampled_from(["0", "-1", "'a'"])).map(lambda t: f"({t[0]})[{t[1]}]"),
    )


grammar_expressions = st.recursive(st.sampled_from(_ATOMS), _grammar, max_leaves=8)
mixed_expressions = st.lists(st.sampled_from(_ATOMS + _JUNK + _OPERATORS), min_size=1, max_size=12).map(
    " ".join
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), state=states)
def test_any_text_either_evaluates_or_raises_expression_error(text, state):
    _attempt(text, state)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=grammar_expressions, state=states)
def test_grammar_expressions_either_evaluate_or_raise_expression_error(expression, state):
    if "__class__" not in expression:
        check(expression)  # only allowed constructs: the check passes
    _attempt(expression, state)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=mixed_expressions, state=states)
def test_valid_tokens_mixed_with_junk_never_run_code(expression, state):
    _attempt(expression, state)


def test_the_guard_would_notice_code_running():
    with no_code_runs() as calls:
        for name, run in (
            ("__import__", lambda: __import__("a_module_never_loaded")),
            ("open", lambda: open("/dev/null")),  # noqa: SIM115
            ("eval", lambda: eval("1")),
            ("exec", lambda: exec("1")),
        ):
            with pytest.raises(CodeRan, match=name):
                run()
    assert [call.split("(")[0] for call in calls] == ["__import__", "open", "eval", "exec"]

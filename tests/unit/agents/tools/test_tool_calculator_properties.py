"""Whatever text it is given, the calculator answers a number or a CalculatorError, fast, and runs
no code: the builtins that could run or load code fail the test if they are touched."""

from __future__ import annotations

import ast
import builtins
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auralink.agents.tools.calculator import CONSTANTS, FUNCTIONS, CalculatorError, evaluate

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOWEST_ACCEPTABLE_S = 5.0


class RanCode(AssertionError):
    pass


def _guard(name: str, real: Any, allowed: Any = lambda *args, **kwargs: False) -> Any:
    # Only the evaluating thread is watched: servers of other tests may be running in this
    # process, and their threads go on importing and opening files.
    watched = threading.get_ident()

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == watched and not allowed(*args, **kwargs):
            raise RanCode(f"{name} was called during evaluation")
        return real(*args, **kwargs)

    return guarded


def _syntax_tree_only(
    source: Any, filename: Any, mode: Any, flags: int = 0, *args: Any, **kwargs: Any
) -> bool:
    # ast.parse is compile(..., PyCF_ONLY_AST): a syntax tree, never a code object.
    return bool(flags & ast.PyCF_ONLY_AST)


@contextmanager
def no_code_may_run() -> Iterator[None]:
    with (
        mock.patch.object(builtins, "__import__", _guard("__import__", builtins.__import__)),
        mock.patch.object(builtins, "open", _guard("open", builtins.open)),
        mock.patch.object(builtins, "eval", _guard("eval", builtins.eval)),
        mock.patch.object(builtins, "exec", _guard("exec", builtins.exec)),
        mock.patch.object(builtins, "compile", _guard("compile", builtins.compile, _syntax_tree_only)),
    ):
        yield


def check(expression: str) -> None:
    started = time.monotonic()
    with no_code_may_run():
        try:
            result = evaluate(expression)
        except CalculatorError as exc:
            assert exc.message and exc.code
            result = None
    assert time.monotonic() - started < SLOWEST_ACCEPTABLE_S, expression
    if result is not None:
        assert type(result) in (int, float)


NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "0.0", "1e308", "1e-320", "0x1f", "0b101", "0o17", "1_000", ".5", "9" * 60]),
)
NAMES = st.sampled_from(
    [
        *sorted(CONSTANTS),
        "x",
        "os",
        "__builtins__",
        "__import__",
        "open",
        "eval",
        "exec",
        "getattr",
        "globals",
    ]
)
CALLABLE = st.sampled_from(
    [*sorted(FUNCTIONS), "__import__", "open", "eval", "exec", "compile", "getattr", "print", "vars", "type"]
)
OPERATORS = st.sampled_from(
    ["+", "-", "*", "/", "//", "%", "**", "<<", "&", "@", "<", "==", "and", "if", ","]
)
JUNK = st.sampled_from(
    [
        "'a'",
        '"os"',
        "b'x'",
        "1j",
        "True",
        "None",
        "...",
        "[]",
        "()",
        "{}",
        ".__class__",
        ".__subclasses__()",
        "[0]",
        "lambda: 0",
        "for x in ()",
        ":=",
        ";",
        "=",
        "\\",
        "#",
        "\n",
        "\x00",
        "*",
        "**",
        "not",
        "await",
        "yield",
        "f'{1}'",
    ]
)


def _binary(parts: tuple[str, str, str]) -> str:
    return " ".join(parts)


def _call(parts: tuple[str, list[str]]) -> str:
    name, arguments = parts
    return f"{name}({', '.join(arguments)})"


ARITHMETIC = st.recursive(
    st.one_of(NUMBERS, NAMES, JUNK),
    lambda inner: st.one_of(
        st.tuples(inner, OPERATORS, inner).map(_binary),
        st.tuples(st.sampled_from(["-", "+", "~", "not "]), inner).map("".join),
        inner.map(lambda text: f"({text})"),
        st.tuples(CALLABLE, st.lists(inner, max_size=3)).map(_call),
        st.tuples(inner, JUNK).map("".join),
    ),
    max_leaves=25,
)
TOKEN_SOUP = st.lists(
    st.one_of(NUMBERS, NAMES, CALLABLE, OPERATORS, JUNK, st.sampled_from(["(", ")", " "])), max_size=40
).map("".join)


@FAST
@given(st.text(max_size=300))
def test_any_text_gives_a_number_or_a_calculator_error(text: str) -> None:
    check(text)


@FAST
@given(ARITHMETIC)
def test_arithmetic_looking_text_gives_a_number_or_a_calculator_error(expression: str) -> None:
    check(expression)


@FAST
@given(TOKEN_SOUP)
def test_token_soup_gives_a_number_or_a_calculator_error(expression: str) -> None:
    check(expression)


@FAST
@given(st.integers(-(10**9), 10**9), st.integers(-(10**9), 10**9))
def test_integer_arithmetic_agrees_with_python(a: int, b: int) -> None:
    assert evaluate(f"({a}) + ({b})") == a + b
    assert evaluate(f"({a}) * ({b})") == a * b
    if b != 0:
        assert evaluate(f"({a}) // ({b})") == a // b
        assert evaluate(f"({a}) % ({b})") == a % b


@pytest.mark.parametrize("expression", ["__import__('os').system('touch pwned')", "open('pwned', 'w')"])
def test_the_guard_itself_would_catch_code_running(expression: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    check(expression)
    with pytest.raises(RanCode), no_code_may_run():
        __import__("os")
    assert list(tmp_path.iterdir()) == []

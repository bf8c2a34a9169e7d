"""The calculator: exact answers for arithmetic, a clear refusal for everything else."""

from __future__ import annotations

import math

import pytest

from auralink.agents.tools.calculator import CalculatorError, evaluate


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2", 3),
        ("2 * (3 + 4)", 14),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("2 ** -2", 0.25),
        ("-3 ** 2", -9),
        ("+-+5", -5),
        ("1_000 * 3", 3000),
        ("0x10 + 0b11", 19),
        ("1e3 + .5", 1000.5),
        ("0.1 + 0.2", 0.1 + 0.2),
        ("sqrt(16)", 4.0),
        ("isqrt(17)", 4),
        ("cbrt(8)", 2.0),
        ("log(100, 10)", 2.0),
        ("log10(1000)", 3.0),
        ("log2(8)", 3.0),
        ("exp(0)", 1.0),
        ("sin(0) + cos(0)", 1.0),
        ("atan2(1, 1)", math.pi / 4),
        ("degrees(pi)", 180.0),
        ("radians(180)", math.pi),
        ("floor(-2.5)", -3),
        ("ceil(2.1)", 3),
        ("trunc(-2.7)", -2),
        ("factorial(20)", 2432902008176640000),
        ("gcd(12, 18)", 6),
        ("lcm(4, 6)", 12),
        ("comb(10, 3)", 120),
        ("perm(5, 2)", 20),
        ("hypot(3, 4)", 5.0),
        ("fabs(-2)", 2.0),
        ("abs(-7)", 7),
        ("round(2.675, 2)", 2.67),
        ("round(7.5)", 8),
        ("round(1234, -2)", 1200),
        ("min(3, 1.5, 2)", 1.5),
        ("max(-1, -2)", -1),
        ("pi", math.pi),
        ("tau / 2", math.pi),
        ("e ** 2", math.e**2),
        ("2 ** 0.5 * 2 ** 0.5", 2**0.5 * 2**0.5),
        ("factorial(1000) // factorial(999)", 1000),
        ("2 ** 10000 // 2 ** 9999", 2),
        ("  (1 + 1)  ", 2),
    ],
)
def test_arithmetic_is_exact(expression: str, expected: float) -> None:
    result = evaluate(expression)

    assert result == expected
    assert type(result) is type(expected)


def test_infinity_and_nan_are_numbers_too() -> None:
    assert evaluate("inf") == math.inf
    assert math.isnan(evaluate("inf - inf"))
    assert evaluate("1e308 * 10") == math.inf


@pytest.mark.parametrize(
    ("expression", "code", "message"),
    [
        ("__import__('os')", "invalid_expression", "the function '__import__' is not allowed"),
        ("open('x')", "invalid_expression", "the function 'open' is not allowed"),
        ("eval('1')", "invalid_expression", "the function 'eval' is not allowed"),
        ("().__class__", "invalid_expression", "attribute access (.name) is not allowed"),
        ("math.pi", "invalid_expression", "attribute access (.name) is not allowed"),
        ("(1).real", "invalid_expression", "attribute access (.name) is not allowed"),
        ("lambda: 1", "invalid_expression", "lambda expressions are not allowed"),
        ("[x for x in ()]", "invalid_expression", "comprehensions are not allowed"),
        ("sum(x for x in (1, 2))", "invalid_expression", "the function 'sum' is not allowed"),
        ("'a' * 10", "invalid_expression", "only numbers are allowed, not strings"),
        ("b'a'", "invalid_expression", "only numbers are allowed, not bytes"),
        ("True + 1", "invalid_expression", "only numbers are allowed, not booleans"),
        ("None", "invalid_expression", "only numbers are allowed, not the constant None"),
        ("1j", "invalid_expression", "only numbers are allowed, not complex numbers"),
        ("x + 1", "invalid_expression", "unknown name 'x'"),
        ("sqrt", "invalid_expression", "unknown name 'sqrt'"),
        ("[1, 2][0]", "invalid_expression", "subscripts ([...]) are not allowed"),
        ("[1, 2]", "invalid_expression", "lists are not allowed"),
        ("(1, 2)", "invalid_expression", "tuples are not allowed"),
        ("{1: 2}", "invalid_expression", "dictionaries are not allowed"),
        ("1 < 2", "invalid_expression", "comparisons are not allowed"),
        ("1 and 2", "invalid_expression", "boolean operators (and, or) are not allowed"),
        ("1 if 1 else 2", "invalid_expression", "conditional expressions are not allowed"),
        ("(y := 2)", "invalid_expression", "assignment expressions are not allowed"),
        ("f'{1}'", "invalid_expression", "f-strings are not allowed"),
        ("1 << 2", "invalid_expression", "the operator << is not allowed"),
        ("~1", "invalid_expression", "the operator ~ is not allowed"),
        ("not 1", "invalid_expression", "the operator not is not allowed"),
        ("round(2.5, ndigits=1)", "invalid_expression", "keyword arguments are not allowed"),
        ("max(*[1, 2])", "invalid_expression", "unpacking (*) is not allowed"),
        ("(lambda: 1)()", "invalid_expression", "only the listed functions can be called"),
        ("x = 1", "invalid_expression", "not valid arithmetic"),
        ("import os", "invalid_expression", "not valid arithmetic"),
        ("1 +", "invalid_expression", "not valid arithmetic"),
        ("", "invalid_expression", "the expression is empty"),
        ("\u221a4", "invalid_expression", "only ASCII characters"),
        ("1\x00", "invalid_expression", "not valid arithmetic"),
        ("1 + " * 300 + "1", "invalid_expression", "longer than 1000 characters"),
        ("1+" * 200 + "1", "invalid_expression", "more than 300 parts"),
        ("-" * 100 + "1", "invalid_expression", "nested more than 60 levels"),
        ("(" * 250 + "1" + ")" * 250, "invalid_expression", "not valid arithmetic"),
        ("9**9**9", "too_large", "exponents are limited to 10000"),
        ("10 ** 5000", "too_large", "more than 4000 digits"),
        ("(10 ** 3000) * (10 ** 3000)", "too_large", "more than 4000 digits"),
        ("factorial(10**6)", "too_large", "factorial is limited to arguments up to 1000"),
        ("comb(10**6, 3)", "too_large", "comb is limited"),
        ("round(5, -10**300)", "too_large", "round accepts at most 400 digits"),
        ("exp(1000)", "too_large", "too large"),
        ("2.0 ** 5000", "too_large", "too large"),
        ("10 ** 400 / 3", "too_large", "too large"),
        ("1 / 0", "division_by_zero", "division by zero"),
        ("1 // 0", "division_by_zero", "division by zero"),
        ("5 % 0.0", "division_by_zero", "division by zero"),
        ("0 ** -1", "division_by_zero", "division by zero"),
        ("sqrt(-1)", "domain_error", "in sqrt"),
        ("log(0)", "domain_error", "in log"),
        ("acos(2)", "domain_error", "in acos"),
        ("factorial(-1)", "domain_error", "in factorial"),
        ("(-8) ** (1 / 3)", "domain_error", "not a real number"),
        ("gcd(1.5, 2)", "invalid_expression", "bad arguments in gcd"),
        ("sqrt(1, 2)", "invalid_expression", "bad arguments in sqrt"),
        ("min(3)", "invalid_expression", "bad arguments in min"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message(expression: str, code: str, message: str) -> None:
    with pytest.raises(CalculatorError) as raised:
        evaluate(expression)

    assert raised.value.code == code
    assert message in raised.value.message


def test_a_refusal_names_the_construct_even_when_arithmetic_would_fail_first() -> None:
    # The whole expression is checked before any of it runs.
    with pytest.raises(CalculatorError, match="the function 'open' is not allowed"):
        evaluate("1 / 0 + open('x')")

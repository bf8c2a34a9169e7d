"""Safe arithmetic for agents: the expression is parsed with `ast` and walked, never executed.

Accepted: int and float literals; unary + and -; + - * / // % ** and parentheses; the numeric
functions of `math` listed in `FUNCTIONS`, and `abs`, `round`, `min`, `max`; the constants `pi`,
`e`, `tau`, `inf` and `nan`. Everything else (names, attributes, strings, subscripts,
comparisons, lambdas, comprehensions, keyword arguments...) is refused before anything is
evaluated, with a message naming the construct.

Work is bounded: the expression's length, its node count and nesting depth, the size of every
integer (Python refuses to print integers of more than 4300 digits, and an answer nobody can read
is useless anyway), exponents, and the arguments of the functions whose cost grows with them
(factorial, comb, perm, round's digits).
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable
from typing import Any

from auralink.agents.tools.base import BuiltinTool, ToolAnswer, ToolContext, ToolError
from auralink.agents.tools.names import CALCULATOR

Number = int | float

MAX_EXPRESSION_CHARS = 1000
MAX_NODES = 300
MAX_DEPTH = 60
MAX_DIGITS = 4000
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1000
MAX_COMBINATORICS_N = 10_000
MAX_ROUND_DIGITS = 400

_LOG10_2 = math.log10(2)


class CalculatorError(ToolError):
    def __init__(self, message: str, *, code: str = "invalid_expression") -> None:
        super().__init__(message, code=code)


def _bounded_factorial(n: Any) -> Any:
    if isinstance(n, int) and n > MAX_FACTORIAL:
        raise CalculatorError(f"factorial is limited to arguments up to {MAX_FACTORIAL}", code="too_large")
    return math.factorial(n)


def _bounded_combinatorics(function: Callable[..., int]) -> Callable[..., int]:
    def bounded(*args: Any) -> int:
        if any(isinstance(arg, int) and arg > MAX_COMBINATORICS_N for arg in args):
            raise CalculatorError(
                f"{function.__name__} is limited to arguments up to {MAX_COMBINATORICS_N}", code="too_large"
            )
        return function(*args)

    return bounded


def _bounded_round(number: Any, *ndigits: Any) -> Any:
    if ndigits and isinstance(ndigits[0], int) and abs(ndigits[0]) > MAX_ROUND_DIGITS:
        raise CalculatorError(f"round accepts at most {MAX_ROUND_DIGITS} digits", code="too_large")
    return round(number, *ndigits)


_MATH_NAMES = (
    "sqrt",
    "isqrt",
    "cbrt",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log10",
    "log2",
    "log1p",
    "pow",
    "fmod",
    "remainder",
    "copysign",
    "ldexp",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "hypot",
    "degrees",
    "radians",
    "floor",
    "ceil",
    "trunc",
    "fabs",
    "gcd",
    "lcm",
    "erf",
    "erfc",
    "gamma",
    "lgamma",
)

FUNCTIONS: dict[str, Callable[..., Any]] = {
    **{name: getattr(math, name) for name in _MATH_NAMES},
    "factorial": _bounded_factorial,
    "comb": _bounded_combinatorics(math.comb),
    "perm": _bounded_combinatorics(math.perm),
    "abs": abs,
    "round": _bounded_round,
    "min": min,
    "max": max,
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf, "nan": math.nan}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: lambda a: +a,
    ast.USub: lambda a: -a,
}

# How the refused constructs are named in messages.
_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (.name) is",
    ast.Subscript: "subscripts ([...]) are",
    ast.Lambda: "lambda expressions are",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "comprehensions are",
    ast.Compare: "comparisons are",
    ast.BoolOp: "boolean operators (and, or) are",
    ast.IfExp: "conditional expressions are",
    ast.NamedExpr: "assignment expressions are",
    ast.List: "lists are",
    ast.Tuple: "tuples are",
    ast.Set: "sets are",
    ast.Dict: "dictionaries are",
    ast.JoinedStr: "f-strings are",
    ast.Starred: "unpacking (*) is",
    ast.Await: "await is",
    ast.Yield: "yield is",
    ast.YieldFrom: "yield is",
    ast.Slice: "slices are",
}
_OPERATOR_SYMBOLS: dict[type[ast.AST], str] = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Not: "not",
}


def evaluate(expression: str) -> Number:
    """The value of ``expression``; `CalculatorError` for anything that is not allowed or fails."""
    if not isinstance(expression, str):
        raise CalculatorError("the expression must be a string")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    if not expression.strip():
        raise CalculatorError("the expression is empty")
    if not expression.isascii():
        # Arithmetic needs none, and the parser would load unicodedata to normalise identifiers.
        raise CalculatorError("the expression may contain only ASCII characters")
    tree = _parse(expression)
    if _node_count(tree) > MAX_NODES:
        raise CalculatorError(f"the expression has more than {MAX_NODES} parts")
    _check(tree.body, depth=0)
    return _evaluate(tree.body)


def _node_count(tree: ast.AST) -> int:
    # Not ast.walk: it imports on every call, and evaluation imports nothing.
    count, pending = 0, [tree]
    while pending:
        node = pending.pop()
        count += 1
        pending.extend(ast.iter_child_nodes(node))
    return count


def _parse(expression: str) -> ast.Expression:
    try:
        with warnings.catch_warnings():
            # Odd literals ("1if") warn; the expression is refused or accepted on its own merits.
            warnings.simplefilter("ignore")
            return ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise CalculatorError(f"the expression is not valid arithmetic{where}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise CalculatorError("the expression is not valid arithmetic") from None


def _refuse(node: ast.AST) -> CalculatorError:
    symbol = _OPERATOR_SYMBOLS.get(type(node))
    if symbol is not None:
        return CalculatorError(f"the operator {symbol} is not allowed")
    if isinstance(node, ast.Constant):
        kind = {str: "strings", bytes: "bytes", bool: "booleans", complex: "complex numbers"}.get(
            type(node.value), f"the constant {node.value!r}"
        )
        return CalculatorError(f"only numbers are allowed, not {kind}")
    if isinstance(node, ast.Name):
        return CalculatorError(
            f"unknown name {node.id!r}: the constants are {', '.join(CONSTANTS)}; functions must be called"
        )
    construct = _REFUSED.get(type(node), f"{type(node).__name__} is")
    return CalculatorError(f"{construct} not allowed in arithmetic")


def _check(node: ast.expr, *, depth: int) -> None:
    """Refuse the whole expression before any of it runs, naming the first construct not allowed."""
    if depth > MAX_DEPTH:
        raise CalculatorError(f"the expression is nested more than {MAX_DEPTH} levels deep")
    match node:
        case ast.Constant(value=value) if type(value) in (int, float):
            return
        case ast.Name(id=name) if name in CONSTANTS:
            return
        case ast.BinOp(left=left, op=op, right=right):
            if type(op) not in _BINARY:
                raise _refuse(op)
            _check(left, depth=depth + 1)
            _check(right, depth=depth + 1)
        case ast.UnaryOp(op=op, operand=operand):
            if type(op) not in _UNARY:
                raise _refuse(op)
            _check(operand, depth=depth + 1)
        case ast.Call(func=func, args=args, keywords=keywords):
            _check_call(func, args, keywords, depth=depth)
        case _:
            raise _refuse(node)


def _check_call(func: ast.expr, args: list[ast.expr], keywords: list[ast.keyword], *, depth: int) -> None:
    if not isinstance(func, ast.Name):
        raise CalculatorError("only the listed functions can be called, by name")
    if func.id not in FUNCTIONS:
        raise CalculatorError(f"the function {func.id!r} is not allowed")
    if keywords:
        raise CalculatorError(f"keyword arguments are not allowed (in {func.id})")
    for argument in args:
        _check(argument, depth=depth + 1)


def _evaluate(node: ast.expr) -> Number:
    # Only the shapes _check accepted reach here.
    if isinstance(node, ast.Constant):
        return _number(node.value)
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _apply(lambda: _BINARY[type(node.op)](left, right), "")
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand)
        return _apply(lambda: _UNARY[type(node.op)](operand), "")
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    name = node.func.id
    values = [_evaluate(argument) for argument in node.args]
    return _apply(lambda: FUNCTIONS[name](*values), name)


def _apply(operation: Callable[[], Any], name: str) -> Number:
    where = f" in {name}" if name else ""
    try:
        return _number(operation())
    except CalculatorError:
        raise
    except ZeroDivisionError:
        raise CalculatorError(f"division by zero{where}", code="division_by_zero") from None
    except OverflowError:
        raise CalculatorError(f"the result{where} is too large", code="too_large") from None
    except ValueError as exc:
        detail = "math domain error" if "domain" in str(exc) else str(exc)[:200]
        raise CalculatorError(
            f"{detail}{where}: an argument is outside the function's domain", code="domain_error"
        ) from None
    except TypeError as exc:
        raise CalculatorError(f"bad arguments{where}: {str(exc)[:200]}") from None


def _check_power(base: Number, exponent: Number) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)):
        return  # float powers overflow into OverflowError, or stay small
    if abs(base) <= 1:
        return
    if abs(exponent) > MAX_EXPONENT:
        raise CalculatorError(f"exponents are limited to {MAX_EXPONENT}", code="too_large")
    if exponent > 0 and exponent * math.log10(abs(base)) > MAX_DIGITS:
        raise CalculatorError(f"the result would have more than {MAX_DIGITS} digits", code="too_large")


def _number(value: Any) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        # Negative bases with fractional exponents give complex numbers.
        raise CalculatorError("the result is not a real number", code="domain_error")
    if isinstance(value, int) and value.bit_length() * _LOG10_2 > MAX_DIGITS:
        raise CalculatorError(f"a value has more than {MAX_DIGITS} digits", code="too_large")
    return value


def _json_number(value: Number) -> Number | str:
    # JSON has no infinities or NaN: those are given as text.
    return value if isinstance(value, int) or math.isfinite(value) else str(value)


def _run(context: ToolContext, arguments: dict[str, Any]) -> ToolAnswer:
    value = evaluate(arguments["expression"])
    return ToolAnswer(text=str(value), structured={"result": _json_number(value)})


TOOL = BuiltinTool(
    name=CALCULATOR,
    description=(
        "Evaluate an arithmetic expression exactly and return its value. Supports integers and "
        "decimals, + - * / // % ** and parentheses, the constants pi, e, tau, inf and nan, and the "
        "functions abs, round, min, max, sqrt, cbrt, exp, log (log(x) or log(x, base)), log10, log2, "
        "sin, cos, tan, asin, acos, atan, atan2, sinh, cosh, tanh, floor, ceil, trunc, factorial, "
        "gcd, lcm, comb, perm, hypot, fabs, degrees, radians, pow, fmod. Angles are in radians. "
        "Example: sqrt(2) * (3 + 4) ** 2"
    ),
    input_schema={
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_EXPRESSION_CHARS,
                "description": "The arithmetic expression, e.g. 2 * (3 + 4) or log(100, 10)",
            }
        },
        "required": ["expression"],
        "additionalProperties": False,
    },
    run=_run,
)

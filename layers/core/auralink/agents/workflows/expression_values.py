"""What the operators and functions of condition expressions do to JSON values.

JSON's semantics rather than Python's where they differ: booleans are not numbers, a missing
value is null, and every type mismatch is an `ExpressionError` with a message, never a
TypeError. Nothing here knows about syntax: `expressions` maps its syntax tree onto these.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

# Beyond this a number is no longer a quantity a condition compares: refuse it early.
MAX_MAGNITUDE = 10**30


class ExpressionError(ValueError):
    """An expression that is not allowed, or one that cannot be evaluated on the state it was given."""


def truthy(value: Any) -> bool:
    """JSON truth: null, false, 0, "" and empty lists and objects are false; anything else true."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float | str | list | dict | tuple):
        return bool(value)
    return True


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    ((int, float), "number"),
    (str, "string"),
    ((list, tuple), "list"),
    (dict, "object"),
)


def kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    return next((name for kinds, name in _KINDS if isinstance(value, kinds)), type(value).__name__)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def bounded(value: float) -> float:
    """The number, unless it overflowed or outgrew `MAX_MAGNITUDE`."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("arithmetic overflow")
    if abs(value) > MAX_MAGNITUDE:
        raise ExpressionError("a number grew too large")
    return value


def equal(left: Any, right: Any) -> bool:
    # JSON's booleans are not numbers: true == 1 is false here, unlike in Python.
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(equal(left[key], right[key]) for key in left)
    if is_number(left) and is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def contains(container: Any, item: Any) -> bool:
    """``item in container``; nothing is in null (a missing value)."""
    if container is None:
        return False
    if isinstance(container, str):
        if not isinstance(item, str):
            raise ExpressionError(f"'in' a string needs a string, not a {kind(item)}")
        return item in container
    if isinstance(container, list | tuple):
        return any(equal(item, element) for element in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    raise ExpressionError(f"'in' needs a string, list or object, not a {kind(container)}")


def _order(symbol: str, left: Any, right: Any) -> bool:
    numbers = is_number(left) and is_number(right)
    if not numbers and not (isinstance(left, str) and isinstance(right, str)):
        raise ExpressionError(f"cannot compare a {kind(left)} with a {kind(right)}")
    match symbol:
        case "<":
            return bool(left < right)
        case "<=":
            return bool(left <= right)
        case ">":
            return bool(left > right)
        case _:
            return bool(left >= right)


def compare(symbol: str, left: Any, right: Any) -> bool:
    """One comparison: ``==``, ``!=``, ``in``, ``not in``, ``<``, ``<=``, ``>``, ``>=``."""
    match symbol:
        case "==":
            return equal(left, right)
        case "!=":
            return not equal(left, right)
        case "in":
            return contains(right, left)
        case "not in":
            return not contains(right, left)
        case _:
            return _order(symbol, left, right)


def arithmetic(symbol: str, left: Any, right: Any) -> float:
    """One of ``+ - * / %`` on two numbers."""
    if not (is_number(left) and is_number(right)):
        raise ExpressionError(f"{symbol} needs numbers, not a {kind(left)} and a {kind(right)}")
    if symbol in "/%" and right == 0:
        raise ExpressionError("division by zero")
    try:
        match symbol:
            case "+":
                result = left + right
            case "-":
                result = left - right
            case "*":
                result = left * right
            case "/":
                result = left / right
            case _:
                result = left % right
    except OverflowError:
        raise ExpressionError("arithmetic overflow") from None
    return bounded(result)


def sign(negative: bool, operand: Any) -> float:
    if not is_number(operand):
        raise ExpressionError(f"unary minus and plus need a number, not a {kind(operand)}")
    return -operand if negative else operand  # type: ignore[no-any-return]


def get(value: Any, key: str | int) -> Any:
    """``value.key`` or ``value[key]``: the item, or null when there is none."""
    if isinstance(key, int):
        if isinstance(value, list | tuple | str) and -len(value) <= key < len(value):
            return value[key]
        return None
    return value.get(key) if isinstance(value, dict) else None


def _text_function(name: str, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExpressionError(f"{name}() needs a string, not a {kind(value)}")
    return value.lower() if name == "lower" else value.upper()


def _affix(name: str, text: Any, affix: Any) -> bool:
    if text is None:
        return False
    if not (isinstance(text, str) and isinstance(affix, str)):
        raise ExpressionError(f"{name}() needs two strings, not a {kind(text)} and a {kind(affix)}")
    return text.startswith(affix) if name == "startswith" else text.endswith(affix)


def _number(value: Any) -> float:
    if is_number(value):
        return bounded(value)
    text = value.strip() if isinstance(value, str) else ""
    if text and len(text) <= 40:
        try:
            return bounded(int(text))
        except ValueError:
            pass
        try:
            converted = float(text)
        except ValueError:
            converted = math.nan
        if math.isfinite(converted):
            return bounded(converted)
    raise ExpressionError(f"number() cannot convert a {kind(value)} to a number")


def _length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise ExpressionError(f"len() needs a string, list or object, not a {kind(value)}")


# name: (number of arguments, implementation)
FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "len": (1, _length),
    "lower": (1, lambda value: _text_function("lower", value)),
    "upper": (1, lambda value: _text_function("upper", value)),
    "contains": (2, contains),
    "startswith": (2, lambda text, affix: _affix("startswith", text, affix)),
    "endswith": (2, lambda text, affix: _affix("endswith", text, affix)),
    "number": (1, _number),
    "exists": (1, lambda value: value is not None),
}

"""Condition expressions over a run's state, evaluated by walking a whitelisted syntax tree.

The text is parsed with Python's own parser (``mode="eval"``) and nothing of it is ever compiled
or executed: the walker below gives each allowed node its meaning, and refuses every other node
before evaluation starts. Names are ``input`` and ``outputs`` (and ``true``, ``false``, ``null``);
``.name`` and ``[constant]`` look values up, a missing one being null, so that
``outputs.review.approved == true`` is simply false while the review has not run.
"""

from __future__ import annotations

import ast
import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

from auralink.agents.workflows.definition import ConditionNode

MAX_LENGTH = 2_000
MAX_NODES = 200
# Beyond this a number is no longer a quantity a condition compares: refuse it early.
MAX_MAGNITUDE = 10**30
_ROOTS = ("input", "outputs")
_LITERAL_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None}
_ARITY = {
    "len": 1,
    "lower": 1,
    "upper": 1,
    "contains": 2,
    "startswith": 2,
    "endswith": 2,
    "number": 1,
    "exists": 1,
}
_BINARY_SYMBOLS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Mod: "%",
}
_REFUSED_HINTS: dict[type[ast.AST], str] = {
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Starred: "* unpacking is not allowed",
    ast.NamedExpr: ":= is not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed: use a branch per case",
    ast.Dict: "object literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed: index with a constant",
}


class ExpressionError(ValueError):
    """An expression that is not allowed, or one that cannot be evaluated on the state it was given."""


def _describe(node: ast.AST) -> str:
    return type(node).__name__


# ---------------------------------------------------------------- checking


def _check_name(node: ast.Name) -> None:
    if node.id not in _ROOTS and node.id not in _LITERAL_NAMES:
        raise ExpressionError(
            f"unknown name {node.id!r}: use input.<key>, outputs.<node id>, true, false or null"
        )


def _check_constant(node: ast.Constant) -> None:
    value = node.value
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise ExpressionError("number literal too large")
        return
    raise ExpressionError(f"{type(value).__name__} literals are not allowed")


def _check_subscript(node: ast.Subscript) -> None:
    key = node.slice
    if isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.USub):
        key = key.operand
    if not (isinstance(key, ast.Constant) and isinstance(key.value, int | str)):
        raise ExpressionError("only constant subscripts are allowed, such as [0] or ['key']")
    if isinstance(key.value, bool):
        raise ExpressionError("only constant subscripts are allowed, such as [0] or ['key']")


def _check_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name) or node.func.id not in _ARITY:
        raise ExpressionError(f"only these functions can be called: {', '.join(sorted(_ARITY))}")
    if node.keywords:
        raise ExpressionError(f"{node.func.id}() takes no keyword arguments")
    expected = _ARITY[node.func.id]
    if len(node.args) != expected:
        raise ExpressionError(f"{node.func.id}() takes {expected} argument{'s' if expected > 1 else ''}")


# Nodes that need no check of their own (their children are checked).
_PLAIN = (
    ast.Expression,
    ast.Load,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.List,
    ast.Tuple,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Not,
    ast.USub,
    ast.UAdd,
    *_BINARY_SYMBOLS,
)


def _check_operator(node: ast.BinOp | ast.UnaryOp) -> None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        raise ExpressionError("** is not allowed")
    if isinstance(node, ast.BinOp) and type(node.op) not in _BINARY_SYMBOLS:
        raise ExpressionError("only + - * / % are allowed between numbers")
    if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
        raise ExpressionError("only not, unary - and unary + are allowed")


def _check_attribute(node: ast.Attribute) -> None:
    if node.attr.startswith("__"):
        raise ExpressionError(f"attribute {node.attr!r} is not allowed")


def _check_node(node: ast.AST, parent: ast.AST | None) -> None:
    if isinstance(node, _PLAIN):
        return
    if isinstance(node, ast.Name):
        if not (isinstance(parent, ast.Call) and parent.func is node):
            _check_name(node)
    elif isinstance(node, ast.BinOp | ast.UnaryOp):
        _check_operator(node)
    elif isinstance(node, ast.Constant):
        _check_constant(node)
    elif isinstance(node, ast.Attribute):
        _check_attribute(node)
    elif isinstance(node, ast.Subscript):
        _check_subscript(node)
    elif isinstance(node, ast.Call):
        _check_call(node)
    elif isinstance(node, ast.Is | ast.IsNot):
        raise ExpressionError("'is' is not allowed: use == or !=")
    else:
        hint = next(
            (text for kind, text in _REFUSED_HINTS.items() if isinstance(node, kind)),
            f"{_describe(node)} is not allowed in a condition",
        )
        raise ExpressionError(hint)


def _children(node: ast.AST) -> list[ast.AST]:
    return list(ast.iter_child_nodes(node))


def _parse(expression: str) -> ast.Expression:
    if not isinstance(expression, str):
        raise ExpressionError(f"an expression is a string, not a {_kind(expression)}")
    if not expression.strip():
        raise ExpressionError("the expression is empty")
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    return _checked_tree(expression)


@functools.lru_cache(maxsize=512)
def _checked_tree(expression: str) -> ast.Expression:
    try:
        with warnings.catch_warnings():
            # Python's own hints (an invalid escape in a string) are not this language's concern.
            warnings.simplefilter("ignore")
            tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invalid syntax: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("invalid syntax: the expression cannot be parsed") from None
    # Iterative, parents before children: the size bound holds before any recursion over the tree,
    # and a refused node is refused before anything below it is looked at.
    count = 0
    pending: list[tuple[ast.AST, ast.AST | None]] = [(tree, None)]
    while pending:
        node, parent = pending.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"the expression is too complex (more than {MAX_NODES} parts)")
        _check_node(node, parent)
        pending.extend((child, node) for child in _children(node))
    return tree


def check(expression: str) -> None:
    """ExpressionError, with a message saying what is wrong, unless the expression is allowed."""
    _parse(expression)


# ---------------------------------------------------------------- evaluating


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


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    return next((name for kinds, name in _KINDS if isinstance(value, kinds)), type(value).__name__)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_result(value: float) -> float:
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("arithmetic overflow")
    if abs(value) > MAX_MAGNITUDE:
        raise ExpressionError("a number grew too large")
    return value


def _equal(left: Any, right: Any) -> bool:
    # JSON's booleans are not numbers: true == 1 is false here, unlike in Python.
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_equal(left[key], right[key]) for key in left)
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def _contains(container: Any, item: Any) -> bool:
    if container is None:
        return False
    if isinstance(container, str):
        if not isinstance(item, str):
            raise ExpressionError(f"'in' a string needs a string, not a {_kind(item)}")
        return item in container
    if isinstance(container, list | tuple):
        return any(_equal(item, element) for element in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    raise ExpressionError(f"'in' needs a string, list or object, not a {_kind(container)}")


def _order(op: ast.cmpop, left: Any, right: Any) -> bool:
    numbers = _is_number(left) and _is_number(right)
    if not numbers and not (isinstance(left, str) and isinstance(right, str)):
        raise ExpressionError(f"cannot compare a {_kind(left)} with a {_kind(right)}")
    match op:
        case ast.Lt():
            return bool(left < right)
        case ast.LtE():
            return bool(left <= right)
        case ast.Gt():
            return bool(left > right)
        case _:
            return bool(left >= right)


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    match op:
        case ast.Eq():
            return _equal(left, right)
        case ast.NotEq():
            return not _equal(left, right)
        case ast.In():
            return _contains(right, left)
        case ast.NotIn():
            return not _contains(right, left)
        case _:
            return _order(op, left, right)


def _arithmetic(op: ast.operator, left: Any, right: Any) -> float:
    symbol = _BINARY_SYMBOLS[type(op)]
    if not (_is_number(left) and _is_number(right)):
        raise ExpressionError(f"{symbol} needs numbers, not a {_kind(left)} and a {_kind(right)}")
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
    return _number_result(result)


def _get(value: Any, key: str | int) -> Any:
    if isinstance(key, int):
        if isinstance(value, list | tuple | str) and -len(value) <= key < len(value):
            return value[key]
        return None
    return value.get(key) if isinstance(value, dict) else None


def _text_function(name: str, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExpressionError(f"{name}() needs a string, not a {_kind(value)}")
    return value.lower() if name == "lower" else value.upper()


def _affix(name: str, text: Any, affix: Any) -> bool:
    if text is None:
        return False
    if not (isinstance(text, str) and isinstance(affix, str)):
        raise ExpressionError(f"{name}() needs two strings, not a {_kind(text)} and a {_kind(affix)}")
    return text.startswith(affix) if name == "startswith" else text.endswith(affix)


def _number(value: Any) -> float:
    if _is_number(value):
        return _number_result(value)
    text = value.strip() if isinstance(value, str) else ""
    if text and len(text) <= 40:
        try:
            return _number_result(int(text))
        except ValueError:
            pass
        try:
            converted = float(text)
        except ValueError:
            converted = math.nan
        if math.isfinite(converted):
            return _number_result(converted)
    raise ExpressionError(f"number() cannot convert a {_kind(value)} to a number")


def _length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise ExpressionError(f"len() needs a string, list or object, not a {_kind(value)}")


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _length,
    "lower": lambda value: _text_function("lower", value),
    "upper": lambda value: _text_function("upper", value),
    "contains": _contains,
    "startswith": lambda text, affix: _affix("startswith", text, affix),
    "endswith": lambda text, affix: _affix("endswith", text, affix),
    "number": _number,
    "exists": lambda value: value is not None,
}


class _Evaluator:
    def __init__(self, state: dict[str, Any]) -> None:
        self._names = {"input": state.get("input"), "outputs": state.get("outputs") or {}}

    def value(self, node: ast.AST) -> Any:  # noqa: PLR0911  (one arm per kind of node)
        match node:
            case ast.Expression(body=body):
                return self.value(body)
            case ast.Constant(value=constant):
                return constant
            case ast.Name(id=name):
                return self._names[name] if name in self._names else _LITERAL_NAMES[name]
            case ast.Attribute(value=inner, attr=attr):
                return _get(self.value(inner), attr)
            case ast.Subscript(value=inner, slice=key):
                return _get(self.value(inner), self.value(key))
            case ast.List(elts=items) | ast.Tuple(elts=items):
                return [self.value(item) for item in items]
            case ast.BoolOp():
                return self._boolean(node)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not truthy(self.value(operand))
            case ast.UnaryOp(op=op, operand=operand):
                return self._sign(op, self.value(operand))
            case ast.BinOp(left=left, op=op, right=right):
                return _arithmetic(op, self.value(left), self.value(right))
            case ast.Compare():
                return self._comparison(node)
            case ast.Call(func=ast.Name(id=name), args=args):
                return _FUNCTIONS[name](*(self.value(arg) for arg in args))
        raise ExpressionError(f"{_describe(node)} is not allowed in a condition")

    def _boolean(self, node: ast.BoolOp) -> Any:
        # Like Python: the operand that decided, so that `outputs.x or "none"` reads naturally.
        result: Any = None
        for operand in node.values:
            result = self.value(operand)
            if truthy(result) == isinstance(node.op, ast.Or):
                return result
        return result

    @staticmethod
    def _sign(op: ast.unaryop, operand: Any) -> Any:
        if not _is_number(operand):
            raise ExpressionError(f"unary minus and plus need a number, not a {_kind(operand)}")
        return -operand if isinstance(op, ast.USub) else operand

    def _comparison(self, node: ast.Compare) -> bool:
        left = self.value(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.value(comparator)
            if not _compare(op, left, right):
                return False
            left = right
        return True


def evaluate(expression: str, state: dict[str, Any]) -> Any:
    """The expression's value on ``state`` (``{"input": ..., "outputs": {...}}``); ExpressionError only."""
    tree = _parse(expression)
    try:
        return _Evaluator(state).value(tree)
    except RecursionError:
        raise ExpressionError("the expression is too deeply nested") from None


def route(node: ConditionNode, state: dict[str, Any]) -> str:
    """The target of the first branch whose condition holds, else the node's default."""
    for branch in node.branches:
        if truthy(evaluate(branch.when, state)):
            return branch.to
    return node.default

"""Condition expressions over a run's state, evaluated by walking a whitelisted syntax tree.

The text is parsed with Python's own parser (``mode="eval"``) and nothing of it is ever compiled
or executed: the walker below gives each allowed node its meaning, and refuses every other node
before evaluation starts. Names are the language's roots (a workflow's: ``input`` and ``outputs``;
see `templates.Roots`) and ``true``, ``false``, ``null``; ``.name`` and ``[constant]`` look values
up, a missing one being null, so that ``outputs.review.approved == true`` is simply false while
the review has not run.
"""

from __future__ import annotations

import ast
import functools
import math
import warnings
from typing import Any

from auralink.agents.workflows import expression_values as values
from auralink.agents.workflows.definition import MAX_EXPRESSION, ConditionNode
from auralink.agents.workflows.expression_values import MAX_MAGNITUDE, ExpressionError, truthy
from auralink.agents.workflows.templates import WORKFLOW, Roots, Segment

__all__ = [
    "MAX_LENGTH",
    "MAX_NODES",
    "ExpressionError",
    "check",
    "evaluate",
    "lookups",
    "route",
    "truthy",
]

MAX_LENGTH = MAX_EXPRESSION
MAX_NODES = 200
_LITERAL_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None}
_COMPARISON_SYMBOLS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
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


def _describe(node: ast.AST) -> str:
    return type(node).__name__


# ---------------------------------------------------------------- checking


def _check_name(node: ast.Name, roots: Roots) -> None:
    if node.id not in roots.names and node.id not in _LITERAL_NAMES:
        raise ExpressionError(f"unknown name {node.id!r}: use {', '.join(roots.shown)}, true, false or null")


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
    if not isinstance(node.func, ast.Name) or node.func.id not in values.FUNCTIONS:
        raise ExpressionError(f"only these functions can be called: {', '.join(sorted(values.FUNCTIONS))}")
    if node.keywords:
        raise ExpressionError(f"{node.func.id}() takes no keyword arguments")
    expected, _ = values.FUNCTIONS[node.func.id]
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
    *_COMPARISON_SYMBOLS,
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


def _check_node(node: ast.AST, parent: ast.AST | None, roots: Roots) -> None:
    if isinstance(node, _PLAIN):
        return
    if isinstance(node, ast.Name):
        if not (isinstance(parent, ast.Call) and parent.func is node):
            _check_name(node, roots)
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


def _parse(expression: str, roots: Roots) -> ast.Expression:
    if not isinstance(expression, str):
        raise ExpressionError(f"an expression is a string, not a {values.kind(expression)}")
    if not expression.strip():
        raise ExpressionError("the expression is empty")
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    return _checked_tree(expression, roots)


@functools.lru_cache(maxsize=512)
def _checked_tree(expression: str, roots: Roots) -> ast.Expression:
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
        _check_node(node, parent, roots)
        pending.extend((child, node) for child in _children(node))
    return tree


def check(expression: str, roots: Roots = WORKFLOW) -> None:
    """ExpressionError, with a message saying what is wrong, unless the expression is allowed."""
    _parse(expression, roots)


def _chain(node: ast.AST) -> tuple[Segment, ...] | None:
    """A name followed by ``.key`` and constant ``[...]`` lookups, as segments; None for anything else."""
    match node:
        case ast.Name(id=name):
            return (name,)
        case ast.Attribute(value=inner, attr=attr):
            head = _chain(inner)
            return None if head is None else (*head, attr)
        case ast.Subscript(value=inner, slice=ast.Constant(value=key)) if isinstance(key, int | str):
            head = _chain(inner)
            return None if head is None else (*head, key)
    return None


def lookups(expression: str, roots: Roots = WORKFLOW) -> list[tuple[Segment, ...]]:
    """The paths the (allowed) expression looks up from its roots, each as far as it goes by
    constants: ``steps.check.output.ok == true`` looks up ``("steps", "check", "output", "ok")``."""
    tree = _parse(expression, roots)
    found: list[tuple[Segment, ...]] = []
    # Only the outermost lookup of each chain: the ones inside it are its own prefixes.
    pending: list[tuple[ast.AST, bool]] = [(tree, False)]
    while pending:
        node, inside_a_chain = pending.pop()
        chain = _chain(node)
        if chain is not None and not inside_a_chain and chain[0] in roots.names:
            found.append(chain)
        # Reversed onto the stack, so that the lookups come out in the order they are written.
        for child in reversed(_children(node)):
            continued = isinstance(node, ast.Attribute | ast.Subscript) and child is node.value
            pending.append((child, chain is not None and continued))
    return found


# ---------------------------------------------------------------- evaluating


class _Evaluator:
    def __init__(self, state: dict[str, Any], roots: Roots) -> None:
        self._names = {root: state.get(root) for root in roots.names}

    def value(self, node: ast.AST) -> Any:  # noqa: PLR0911  (one arm per kind of node)
        match node:
            case ast.Expression(body=body):
                return self.value(body)
            case ast.Constant(value=constant):
                return constant
            case ast.Name(id=name):
                return self._names[name] if name in self._names else _LITERAL_NAMES[name]
            case ast.Attribute(value=inner, attr=attr):
                return values.get(self.value(inner), attr)
            case ast.Subscript(value=inner, slice=key):
                return values.get(self.value(inner), self.value(key))
            case ast.List(elts=items) | ast.Tuple(elts=items):
                return [self.value(item) for item in items]
            case ast.BoolOp():
                return self._boolean(node)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not truthy(self.value(operand))
            case ast.UnaryOp(op=op, operand=operand):
                return values.sign(isinstance(op, ast.USub), self.value(operand))
            case ast.BinOp(left=left, op=op, right=right):
                return values.arithmetic(_BINARY_SYMBOLS[type(op)], self.value(left), self.value(right))
            case ast.Compare():
                return self._comparison(node)
            case ast.Call(func=ast.Name(id=name), args=args):
                _, function = values.FUNCTIONS[name]
                return function(*(self.value(arg) for arg in args))
        raise ExpressionError(f"{_describe(node)} is not allowed in a condition")

    def _boolean(self, node: ast.BoolOp) -> Any:
        # Like Python: the operand that decided, so that `outputs.x or "none"` reads naturally.
        result: Any = None
        for operand in node.values:
            result = self.value(operand)
            if truthy(result) == isinstance(node.op, ast.Or):
                return result
        return result

    def _comparison(self, node: ast.Compare) -> bool:
        left = self.value(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.value(comparator)
            if not values.compare(_COMPARISON_SYMBOLS[type(op)], left, right):
                return False
            left = right
        return True


def evaluate(expression: str, state: dict[str, Any], roots: Roots = WORKFLOW) -> Any:
    """The expression's value on ``state`` (a workflow's: ``{"input": ..., "outputs": {...}}``);
    ExpressionError only."""
    tree = _parse(expression, roots)
    try:
        return _Evaluator(state, roots).value(tree)
    except RecursionError:
        raise ExpressionError("the expression is too deeply nested") from None


def route(node: ConditionNode, state: dict[str, Any]) -> str:
    """The target of the first branch whose condition holds, else the node's default."""
    for branch in node.branches:
        if truthy(evaluate(branch.when, state)):
            return branch.to
    return node.default

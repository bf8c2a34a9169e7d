"""Every error code the service can answer, and its HTTP status, read from the source.

The scan walks `layers/core/auralink` and `functions` and collects:

- each `DomainError` subclass's default ``code`` (its status is `auralink.edge.status_for`'s);
- each construction of such a class with ``code=...``, ``super().__init__(..., code=...)`` in a
  subclass included;
- each answer an edge writes itself with a literal status: ``error_response(HTTPStatus.X,
  "code", ...)`` in `auralink.http`, ``jsonrpc_error_reply(HTTPStatus.X, ..., data={"code":
  ...})`` in the hosted MCP servers.

The tool modules of the hosted Memory and Sequential Thinking servers are left out: their
failures reach the caller as MCP tool results (``isError``) or JSON-RPC errors, never as an HTTP
status of their own (`auralink.mcp.hosted.tools.answer`).

A ``code=`` value is followed to every string it can be: a literal, an f-string of known parts,
a module constant (local, imported, or ``module.NAME``), a value of a module-level dict (``d[k]``,
``d.get(k, default)``), a branch of a conditional, a local variable (assigned, unpacked, or a loop
variable over a module-level list of tuples), a parameter of the enclosing function (its default
and what every caller in the module passes), or ``exc.code`` where ``exc`` is bound by ``except
SomeError as exc`` (every code that ``SomeError`` or a subclass is raised with). Anything else is
reported as unresolved, so that a new way of passing a code cannot slip past the check.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

from auralink import errors
from auralink.edge import status_for

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "layers" / "core" / "auralink", ROOT / "functions")
API_DOC = ROOT / "docs" / "api.md"
_HOSTED = ROOT / "layers" / "core" / "auralink" / "mcp" / "hosted"
TOOL_RESULT_MODULES = {
    _HOSTED / f"{name}.py" for name in ("memory", "memory_repository", "thinking", "thinking_repository")
}

Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class CodeUse:
    code: str
    status: int
    where: str


@dataclass
class _Module:
    path: Path
    name: str | None  # importable name, for modules of the core layer
    tree: ast.Module
    bindings: dict[str, ast.expr] = field(default_factory=dict)  # module-level NAME = value
    imported_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # from m import n
    imported_modules: dict[str, str] = field(default_factory=dict)  # import m (as alias)
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"

    def enclosing[T: ast.AST](self, node: ast.AST, kind: type[T] | tuple[type[T], ...]) -> T | None:
        current = self.parents.get(node)
        while current is not None and not isinstance(current, kind):
            current = self.parents.get(current)
        return current


def _module_name(path: Path) -> str | None:
    core = ROOT / "layers" / "core"
    if not path.is_relative_to(core):
        return None
    parts = list(path.relative_to(core).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _load(path: Path) -> _Module:
    module = _Module(path, _module_name(path), ast.parse(path.read_text(), str(path)))
    for node in module.tree.body:
        if isinstance(node, ast.Assign):
            module.bindings |= {t.id: node.value for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
            module.bindings[node.target.id] = node.value
    for node in ast.walk(module.tree):  # imports inside functions too (lazy imports)
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                module.imported_names.setdefault(alias.asname or alias.name, (node.module, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module.imported_modules.setdefault(alias.asname or alias.name, alias.name)
        for child in ast.iter_child_nodes(node):
            module.parents[child] = node
    return module


@dataclass(frozen=True)
class _Raise:
    cls: str | None  # a DomainError class's name; None: an answer an edge writes with ``status``
    code: str
    where: str
    status: int = 0


class _Scan:
    def __init__(self) -> None:
        paths = sorted(p for source in SOURCES for p in source.rglob("*.py") if p not in TOOL_RESULT_MODULES)
        self.modules = [_load(path) for path in paths]
        self.by_name = {m.name: m for m in self.modules if m.name}
        self.classes = self._domain_error_classes()
        self.raises: set[_Raise] = set()
        self.unresolved: set[str] = set()

    def _domain_error_classes(self) -> dict[str, type[errors.DomainError]]:
        """Each DomainError subclass's name, with the class of `auralink.errors` it derives from.

        Read from the class statements' bases, without importing the modules (some are slow to
        import); the scan needs the names of the service's errors to be unique.
        """
        definitions: dict[str, list[list[str]]] = defaultdict(list)
        for module in self.modules:
            for node in ast.walk(module.tree):
                if isinstance(node, ast.ClassDef):
                    names = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                    definitions[node.name].append(names)
        self.bases = {
            name: [base for bases in found for base in bases] for name, found in definitions.items()
        }

        def root(name: str, seen: frozenset[str] = frozenset()) -> type[errors.DomainError] | None:
            known = getattr(errors, name, None)
            if isinstance(known, type) and issubclass(known, errors.DomainError):
                return known
            for base in self.bases.get(name, []):
                if base not in seen and (found := root(base, seen | {name})) is not None:
                    return found
            return None

        classes = {name: cls for name in self.bases if (cls := root(name)) is not None}
        repeated = [name for name in classes if len(definitions[name]) > 1]
        assert not repeated, f"DomainError classes defined twice: {repeated}"
        return classes

    def _is_subclass(self, name: str, ancestors: tuple[str, ...]) -> bool:
        return name in ancestors or any(
            self._is_subclass(base, ancestors) for base in self.bases.get(name, [])
        )

    def _status(self, r: _Raise) -> int:
        return int(status_for(self.classes[r.cls])) if r.cls is not None else r.status

    def _default_code(self, node: ast.ClassDef) -> str | None:
        for statement in node.body:
            if (
                isinstance(statement, ast.Assign)
                and [t.id for t in statement.targets if isinstance(t, ast.Name)] == ["code"]
                and isinstance(statement.value, ast.Constant)
            ):
                return str(statement.value.value)
        return None

    def run(self) -> list[CodeUse]:
        # `exc.code` needs the codes found so far: scan again until nothing new turns up.
        while True:
            before = len(self.raises)
            self.unresolved = set()
            for module in self.modules:
                for node in ast.walk(module.tree):
                    # The base class's own default is never answered: every error is of a subclass.
                    if (
                        isinstance(node, ast.ClassDef)
                        and node.name in self.classes
                        and node.name != "DomainError"
                    ):
                        if (code := self._default_code(node)) is not None:
                            self.raises.add(_Raise(node.name, code, module.where(node)))
                    elif isinstance(node, ast.Call):
                        self._call(module, node)
            if len(self.raises) == before:
                break
        return sorted(
            (CodeUse(r.code, self._status(r), r.where) for r in self.raises),
            key=lambda use: (use.code, use.where),
        )

    def _call(self, module: _Module, call: ast.Call) -> None:
        cls: str | None = None
        status = 0
        if _is_super_init(call):
            owner = module.enclosing(call, ast.ClassDef)
            if owner is None or owner.name not in self.classes:
                return
            cls, code_node = owner.name, _keyword(call, "code")
        elif (named := _called_name(call)) in self.classes:
            cls, code_node = named, _keyword(call, "code")
        elif named in _ANSWERS and call.args:
            code_node = _ANSWERS[named](call)
            if code_node is None or _is_forwarded(code_node):
                return  # a domain error's own code, answered with its class's status
            first = call.args[0]
            if not (isinstance(first, ast.Attribute) and ast.unparse(first.value) == "HTTPStatus"):
                self.unresolved.add(f"{module.where(call)}: status {ast.unparse(first)}")
                return
            status = int(HTTPStatus[first.attr])
        else:
            return
        if code_node is None:
            return
        scope = module.enclosing(call, (ast.FunctionDef, ast.AsyncFunctionDef))
        if (
            _is_super_init(call)
            and scope is not None
            and scope.name == "__init__"
            and _is_parameter(scope, code_node)
        ):
            return  # a subclass handing its own `code` parameter on: its callers are scanned
        codes = self._resolve(module, code_node, scope)
        if codes is None:
            self.unresolved.add(f"{module.where(call)}: code={ast.unparse(code_node)}")
            return
        self.raises |= {_Raise(cls, code, module.where(call), status) for code in codes}

    # Every string a `code=` value can be, or None when it cannot be followed.
    def _resolve(
        self, module: _Module, node: ast.expr, scope: Function | None, depth: int = 0
    ) -> list[str] | None:
        if depth > 10:
            return None

        def again(
            value: ast.expr, where: _Module = module, within: Function | None = scope
        ) -> list[str] | None:
            return self._resolve(where, value, within, depth + 1)

        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return _all([again(node.body), again(node.orelse)])
        if isinstance(node, ast.JoinedStr):
            texts = [""]
            for part in node.values:
                pieces = again(part.value if isinstance(part, ast.FormattedValue) else part)
                if pieces is None:
                    return None
                texts = [text + piece for text in texts for piece in pieces]
            return texts
        if isinstance(node, ast.Name):
            if scope is not None and (local := self._local(module, scope, node.id, depth)) is not None:
                return local
            found = self._global(module, node.id)
            return again(found[1], found[0], None) if found else None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr == "code" and (caught := self._caught(module, node)) is not None:
                return caught
            target = self._imported_module(module, node.value.id)
            if target and node.attr in target.bindings:
                return again(target.bindings[node.attr], target, None)
            return None
        if isinstance(node, ast.Subscript):
            return self._dict_values(module, node.value, depth)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            default = again(node.args[1]) if len(node.args) > 1 else []
            return _all([self._dict_values(module, node.func.value, depth), default])
        return None

    def _caught(self, module: _Module, node: ast.Attribute) -> list[str] | None:
        """For ``exc.code`` inside ``except (A, B) as exc``: the codes A, B and their subclasses carry."""
        assert isinstance(node.value, ast.Name)
        handler = module.enclosing(node, ast.ExceptHandler)
        while handler is not None and handler.name != node.value.id:
            handler = module.enclosing(handler, ast.ExceptHandler)
        if handler is None or handler.type is None:
            return None
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names = [
            t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else "" for t in types
        ]
        if not all(name in self.classes for name in names):
            return None
        caught = tuple(names)
        return sorted({r.code for r in self.raises if r.cls is not None and self._is_subclass(r.cls, caught)})

    def _dict_values(self, module: _Module, node: ast.expr, depth: int) -> list[str] | None:
        found = self._global(module, node.id) if isinstance(node, ast.Name) else None
        if found is None or not isinstance(found[1], ast.Dict):
            return None
        where, mapping = found
        return _all([self._resolve(where, value, None, depth + 1) for value in mapping.values])

    def _imported_module(self, module: _Module, alias: str) -> _Module | None:
        source = module.imported_modules.get(alias)
        if source is None and alias in module.imported_names:
            source = ".".join(module.imported_names[alias])
        return self.by_name.get(source or "")

    def _global(self, module: _Module, name: str) -> tuple[_Module, ast.expr] | None:
        if name in module.bindings:
            return module, module.bindings[name]
        if name in module.imported_names:
            source, original = module.imported_names[name]
            target = self.by_name.get(source)
            if target and original in target.bindings:
                return target, target.bindings[original]
        return None

    def _local(self, module: _Module, function: Function, name: str, depth: int) -> list[str] | None:
        """A local variable of ``function`` (assigned, unpacked, a loop variable) or a parameter."""
        values: list[list[str] | None] = []
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    values += [
                        self._resolve(module, v, function, depth + 1)
                        for v in _bound(target, node.value, name)
                    ]
            elif isinstance(node, ast.For) and isinstance(node.iter, ast.Name):
                found = self._global(module, node.iter.id)
                if found and isinstance(found[1], ast.List | ast.Tuple):
                    for element in found[1].elts:
                        values += [
                            self._resolve(found[0], v, None, depth + 1)
                            for v in _bound(node.target, element, name)
                        ]
        if values:
            return _all(values)
        return self._parameter(module, function, name, depth)

    def _parameter(self, module: _Module, function: Function, name: str, depth: int) -> list[str] | None:
        arguments = function.args
        positional = [*arguments.posonlyargs, *arguments.args]
        if not _is_parameter(function, ast.Name(name)):
            return None
        defaults = dict(
            zip(
                [a.arg for a in positional[len(positional) - len(arguments.defaults) :]],
                arguments.defaults,
                strict=True,
            )
        )
        defaults |= {
            a.arg: d
            for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
            if d is not None
        }
        index = next((i for i, a in enumerate(positional) if a.arg == name), None)
        values: list[list[str] | None] = []
        if name in defaults:
            values.append(self._resolve(module, defaults[name], None, depth + 1))
        for call in ast.walk(module.tree):
            if isinstance(call, ast.Call) and _called_name(call) == function.name:
                passed = _keyword(call, name)
                if passed is None and index is not None and index < len(call.args):
                    passed = call.args[index]
                if passed is not None:
                    caller = module.enclosing(call, (ast.FunctionDef, ast.AsyncFunctionDef))
                    values.append(self._resolve(module, passed, caller, depth + 1))
        return _all(values) if values else None


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _second_argument(call: ast.Call) -> ast.expr | None:
    return call.args[1] if len(call.args) >= 2 else None


def _data_code(call: ast.Call) -> ast.expr | None:
    data = _keyword(call, "data")
    if isinstance(data, ast.Dict):
        for key, value in zip(data.keys, data.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "code":
                return value
    return None


# Answers the edges write themselves: where each puts its code.
_ANSWERS: dict[str | None, Callable[[ast.Call], ast.expr | None]] = {
    "error_response": _second_argument,  # auralink.http
    "jsonrpc_error_reply": _data_code,  # auralink.mcp.hosted.app: in the JSON-RPC error's data
}


def _is_forwarded(node: ast.expr) -> bool:
    """``error.code`` of the domain error being answered."""
    return isinstance(node, ast.Attribute) and node.attr == "code"


def _is_super_init(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and _called_name(func.value) == "super"
    )


def _is_parameter(function: Function, node: ast.expr) -> bool:
    arguments = function.args
    names = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
    return isinstance(node, ast.Name) and node.id in names


def _all(values: list[list[str] | None]) -> list[str] | None:
    """Every string of every part, or None when one part is unknown."""
    if any(value is None for value in values):
        return None
    return [text for value in values if value is not None for text in value]


def _bound(target: ast.expr, value: ast.expr, name: str) -> list[ast.expr]:
    """What ``target = value`` binds to ``name``, tuples unpacked."""
    if isinstance(target, ast.Name):
        return [value] if target.id == name else []
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
        return [bound for t, v in zip(target.elts, value.elts, strict=True) for bound in _bound(t, v, name)]
    return []


def scan() -> tuple[list[CodeUse], list[str]]:
    """Every (code, status, place) the source can answer, and the ``code=`` values it cannot follow."""
    scanner = _Scan()
    uses = scanner.run()
    return uses, sorted(scanner.unresolved)


def statuses_by_code(uses: list[CodeUse]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = defaultdict(set)
    for use in uses:
        found[use.code].add(use.status)
    return found


_ROW = re.compile(r"^\|\s*`(?P<code>[a-z0-9_]+)`\s*\|\s*(?P<status>\d{3})\s*\|")


def documented_codes() -> dict[str, int]:
    """The error codes table of docs/api.md (rows ``| `code` | status | ...``): code -> status."""
    documented: dict[str, int] = {}
    for line in API_DOC.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            assert match["code"] not in documented, f"{match['code']} is listed twice in {API_DOC.name}"
            documented[match["code"]] = int(match["status"])
    return documented

"""Static facts about source code: Python through `ast` and `tokenize`, other languages as text.

Nothing is executed or imported. Cyclomatic complexity follows McCabe: 1 for a function, plus 1
for each `if`/`elif`, `for`, `while`, `except`, `case`, `assert`, conditional expression, `if` or
`for` clause of a comprehension, and each extra operand of `and`/`or`. A nested function or class
counts for itself, not for the function around it; code outside any function makes up the
module's own complexity.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
import warnings
from typing import Any, Literal

from auralink.agents.tools.base import BuiltinTool, ToolAnswer, ToolContext, ToolError
from auralink.agents.tools.names import CODE_ANALYZER
from auralink.model import DeferredModel

MAX_SOURCE_BYTES = 200 * 1024
PYTHON_NAMES = frozenset({"python", "py", "python3"})

_DECISIONS = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ExceptHandler,
    ast.IfExp,
    ast.Assert,
    ast.match_case,
)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_NOT_CODE = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
)


class FunctionInfo(DeferredModel):
    name: str  # qualified: "Class.method", "outer.inner"
    line: int
    args: int  # every parameter, self and *args/**kwargs included
    is_async: bool
    complexity: int


class ClassInfo(DeferredModel):
    name: str
    line: int
    methods: list[str]


class LineCounts(DeferredModel):
    total: int
    code: int
    comment: int
    blank: int


class PythonAnalysis(DeferredModel):
    language: Literal["python"] = "python"
    functions: list[FunctionInfo]
    classes: list[ClassInfo]
    imports: list[str]
    module_complexity: int
    total_complexity: int
    lines: LineCounts


class TextAnalysis(DeferredModel):
    language: str
    lines: int
    blank: int
    characters: int
    longest_line: int


def analyze(source: str, language: str | None = None) -> PythonAnalysis | TextAnalysis:
    """Python (the default) or, for any other language, line and character statistics."""
    if len(source.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise ToolError(f"the source is larger than {MAX_SOURCE_BYTES // 1024} kB", code="source_too_large")
    if language is None or language.strip().lower() in PYTHON_NAMES:
        return _python(source)
    return _text(source, language.strip().lower())


def _text(source: str, language: str) -> TextAnalysis:
    lines = source.splitlines()
    return TextAnalysis(
        language=language,
        lines=len(lines),
        blank=sum(1 for line in lines if not line.strip()),
        characters=len(source),
        longest_line=max((len(line) for line in lines), default=0),
    )


def _parse(source: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings are the code's business, not ours
            return ast.parse(source)
    except SyntaxError as exc:
        line = f" (line {exc.lineno})" if exc.lineno else ""
        raise ToolError(f"the Python source does not parse{line}: {exc.msg}", code="syntax_error") from None
    except (ValueError, RecursionError, MemoryError):
        raise ToolError(
            "the Python source does not parse: it is nested too deeply or contains null bytes",
            code="syntax_error",
        ) from None


def _python(source: str) -> PythonAnalysis:
    tree = _parse(source)
    functions: list[FunctionInfo] = []
    classes: list[ClassInfo] = []
    _collect(tree.body, prefix="", functions=functions, classes=classes)
    module_complexity = 1 + _decisions_in(tree.body)
    return PythonAnalysis(
        functions=functions,
        classes=classes,
        imports=_imports(tree),
        module_complexity=module_complexity,
        total_complexity=module_complexity + sum(function.complexity for function in functions),
        lines=_line_counts(source),
    )


def _collect(
    body: list[ast.stmt], *, prefix: str, functions: list[FunctionInfo], classes: list[ClassInfo]
) -> None:
    for node in _definitions(body):
        name = f"{prefix}{node.name}"
        if isinstance(node, ast.ClassDef):
            methods = [
                item.name for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            classes.append(ClassInfo(name=name, line=node.lineno, methods=methods))
        else:
            arguments = node.args
            count = len(arguments.posonlyargs) + len(arguments.args) + len(arguments.kwonlyargs)
            count += (arguments.vararg is not None) + (arguments.kwarg is not None)
            functions.append(
                FunctionInfo(
                    name=name,
                    line=node.lineno,
                    args=count,
                    is_async=isinstance(node, ast.AsyncFunctionDef),
                    complexity=1 + _decisions_in(node.body),
                )
            )
        _collect(node.body, prefix=f"{name}.", functions=functions, classes=classes)


def _definitions(body: list[ast.stmt]) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """Definitions in a body, also those under if/try/with/for blocks of that body."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
    pending: list[ast.AST] = list(reversed(body))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.append(node)
        elif isinstance(node, ast.stmt | ast.excepthandler | ast.match_case):
            pending.extend(reversed([child for child in ast.iter_child_nodes(node)]))
    return found


def _decisions_in(body: list[ast.stmt]) -> int:
    """Decision points in a body, not descending into nested functions, classes or lambdas."""
    count = 0
    pending: list[ast.AST] = [node for node in body if not isinstance(node, _SCOPES)]
    while pending:
        node = pending.pop()
        if isinstance(node, _DECISIONS):
            count += 1
        elif isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            count += 1 + len(node.ifs)
        pending.extend(child for child in ast.iter_child_nodes(node) if not isinstance(child, _SCOPES))
    return count


def _imports(tree: ast.Module) -> list[str]:
    modules: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(dict.fromkeys(alias.name for alias in node.names))
        elif isinstance(node, ast.ImportFrom):
            modules["." * node.level + (node.module or "")] = None
    return list(modules)


def _line_counts(source: str) -> LineCounts:
    lines = source.splitlines()
    code_lines: set[int] = set()
    comment_lines: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comment_lines.add(token.start[0])
            elif token.type not in _NOT_CODE:
                code_lines.update(range(token.start[0], token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass  # the source parsed: at worst the last lines are counted below as code or blank
    blank = sum(1 for number, line in enumerate(lines, 1) if not line.strip() and number not in code_lines)
    comment = len(comment_lines - code_lines)
    return LineCounts(total=len(lines), code=len(lines) - blank - comment, comment=comment, blank=blank)


def _run(context: ToolContext, arguments: dict[str, Any]) -> ToolAnswer:
    analysis = analyze(arguments["source"], arguments.get("language"))
    structured = analysis.model_dump(mode="json")
    return ToolAnswer(text=json.dumps(structured, separators=(",", ":")), structured=structured)


TOOL = BuiltinTool(
    name=CODE_ANALYZER,
    description=(
        "Analyze source code without running it. For Python (the default): the functions (name, "
        "line, number of parameters, async, cyclomatic complexity), classes and their methods, "
        "imported modules, the module's total complexity, and line counts (code, comment, blank). "
        "For any other language: line and character statistics. Reports the line of a syntax error."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "source": {"type": "string", "minLength": 1, "description": "The source code"},
            "language": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9][A-Za-z0-9+#._-]{0,31}$",
                "description": "The language, e.g. python (the default), javascript, go",
            },
        },
        "required": ["source"],
        "additionalProperties": False,
    },
    run=_run,
)

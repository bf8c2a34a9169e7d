"""What a function's code may import, read from the syntax of the source rather than by running it.

An import inside a function body counts as much as one at the top of a module: a lazy import runs
only when its code path does, which an import at init never shows. From a function's own files,
the imports of the `auralink` package's modules are followed too (the core layer ships them), so
that a framework reached through a helper of the library is found as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "layers" / "core"
# Each framework layer of the template and the packages of it that the library imports.
FRAMEWORK_LAYERS = {
    "LangGraphLayer": ("langgraph", "langchain_core"),
    "AutoGenLayer": ("autogen_core", "autogen_agentchat"),
    "PrefectLayer": ("prefect",),
}


@cache
def imported_modules(path: Path, module: str = "") -> frozenset[str]:
    """The modules that the file at `path` imports anywhere in its code.

    `from a import b` names both `a` and `a.b` (`b` may be a submodule); `module` is the file's own
    dotted name, which a relative import needs.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package=path.name == "__init__.py")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return frozenset(found)


def reached_modules(files: Iterable[Path]) -> set[str]:
    """Every module imported by `files`, and by the `auralink` modules they reach, transitively."""
    reached: set[str] = set()
    pending = [name for path in files for name in imported_modules(path)]
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        # Importing a.b.c runs the __init__ of a and of a.b first.
        parts = name.split(".")
        pending.extend(".".join(parts[:end]) for end in range(1, len(parts)))
        source = library_source(name)
        if source is not None:
            pending.extend(imported_modules(source, name))
    return reached


def library_source(module: str) -> Path | None:
    """The source file of an `auralink` module or package, or None for any other name."""
    parts = module.split(".")
    if parts[0] != "auralink":
        return None
    base = LIBRARY.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def library_modules_importing(packages: Iterable[str]) -> list[str]:
    """The `auralink` modules whose own code imports one of `packages` (anywhere in it)."""
    wanted = tuple(packages)
    found = []
    for path in sorted((LIBRARY / "auralink").rglob("*.py")):
        parts = path.relative_to(LIBRARY).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if within(imported_modules(path, module), wanted):
            found.append(module)
    return found


def within(modules: Iterable[str], packages: Iterable[str]) -> set[str]:
    """The `modules` that are one of `packages` or inside one of them."""
    prefixes = tuple(packages)
    return {name for name in modules if name in prefixes or name.startswith(tuple(p + "." for p in prefixes))}


def _absolute(node: ast.ImportFrom, module: str, *, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])

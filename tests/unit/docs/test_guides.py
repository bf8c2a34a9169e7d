"""The guides name only what exists, and follow the convention that lets the docs test run them.

The shell examples themselves run in `tests/e2e/test_docs_examples.py`; these checks need no
runtime: fences, markers, links, paths and the library's module names.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from tests.support.doc_examples import (
    EXPECTED_STATUS,
    NEEDS,
    NEEDS_MARKER,
    OTHER_SHELLS,
    ROOT,
    blocks,
    documents,
    shell_blocks,
)

GUIDES = documents()
IDS = [str(path.relative_to(ROOT)) for path in GUIDES]
_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
_CODE = re.compile(r"`([^`\n]+)`")
_TOP_FOLDERS = ("layers", "functions", "infra", "tests", "shared", "docs", "events", "bench", "requirements")
_PATH = re.compile(rf"^(?:{'|'.join(_TOP_FOLDERS)})/[^\s]*$")
_MODULE = re.compile(r"^auralink(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")


def prose(document: Path) -> str:
    """The document without its fenced blocks."""
    lines = document.read_text(encoding="utf-8").splitlines()
    inside = {block.line + offset for block in blocks(document) for offset in range(-1, len(block.lines) + 1)}
    return "\n".join(line for number, line in enumerate(lines, start=1) if number not in inside)


@pytest.mark.parametrize("document", GUIDES, ids=IDS)
def test_every_fence_names_its_language_and_shell_is_bash(document: Path) -> None:
    unnamed = [block.where for block in blocks(document) if not block.language]
    other = [
        f"{block.where} ({block.language})" for block in blocks(document) if block.language in OTHER_SHELLS
    ]
    assert not unnamed, f"fences without a language (```bash, ```json, ```text...): {unnamed}"
    assert not other, f"shell examples are ```bash, so that the docs test runs them: {other}"


@pytest.mark.parametrize("document", GUIDES, ids=IDS)
def test_markers_are_the_conventions_own(document: Path) -> None:
    problems = []
    for block in shell_blocks(document):
        unknown = [need for need in block.needs if need not in NEEDS]
        if unknown:
            problems.append(f"{block.where}: `# needs:` names {unknown}; known: {sorted(NEEDS)}")
        leading = len(block.needs) and len([line for line in block.lines if NEEDS_MARKER.match(line.strip())])
        later = [line for line in block.lines[leading:] if NEEDS_MARKER.match(line.strip())]
        if later:
            problems.append(f"{block.where}: `# needs:` must be the block's first lines")
        for offset, line in enumerate(block.lines):
            if EXPECTED_STATUS.match(line):
                rest = [text for text in block.lines[offset + 1 :] if text.strip()]
                if not rest or rest[0].lstrip().startswith("#"):
                    problems.append(f"{block.where}+{offset}: `# → <status>` must be right above a command")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("document", GUIDES, ids=IDS)
def test_relative_links_lead_to_files_that_exist(document: Path) -> None:
    missing = []
    for match in _LINK.finditer(prose(document)):
        target = match["target"]
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        if not (document.parent / target.split("#")[0]).exists():
            missing.append(target)
    assert not missing, f"links to nothing: {missing}"


def _exists(path: str) -> bool:
    if "<" in path or "*" in path:
        pattern = re.sub(r"<[^>]+>", "*", path.rstrip("/"))
        return any(ROOT.glob(pattern))
    return (ROOT / path.split(":", maxsplit=1)[0]).exists()


@pytest.mark.parametrize("document", GUIDES, ids=IDS)
def test_the_paths_named_exist(document: Path) -> None:
    named = {code for code in _CODE.findall(prose(document)) if _PATH.match(code)}
    missing = sorted(path for path in named if not _exists(path))
    assert not missing, f"paths that do not exist (moved?): {missing}"


def _resolves(name: str) -> bool:
    """A module of the library, or a name defined in one (`auralink.auth.verify_token`)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


@pytest.mark.parametrize("document", GUIDES, ids=IDS)
def test_the_library_names_exist(document: Path) -> None:
    named = {code.split("(")[0] for code in _CODE.findall(prose(document))}
    missing = sorted(name for name in named if _MODULE.match(name) and not _resolves(name))
    assert not missing, f"names of the library that do not exist (moved?): {missing}"


def test_the_variables_of_mcp_config_are_documented() -> None:
    config = (ROOT / "shared" / "configs" / "mcp-config.yaml").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0] for line in config.splitlines()]
    variables = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", "\n".join(lines)))
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = sorted(name for name in variables if f"`{name}`" not in documented)
    assert variables and not missing, f"docs/configuration.md does not name {missing}"

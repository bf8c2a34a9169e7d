"""The shell examples of the guides (README.md and docs/*.md), as the docs test runs them.

The convention, which the guides follow so that none of them can go stale:

- Every fenced block names its language; shell examples are ```bash (never sh, shell, console).
- A document's ```bash blocks run in order, in one bash session per document (`set -euo
  pipefail`), from the repository's root: variables and functions carry from block to block.
- They run against the docs test's own local runtime: `127.0.0.1:3000` and `localhost:3000`
  become its address. `make dev` is that runtime (already serving), and `make test` is the
  command running the test: both are answered without running anything; other make targets run.
- Stand-ins: an OpenAI-compatible server takes the place of the local model server at
  `127.0.0.1:11434` (Ollama's address), and the seeded DeepWiki server is a DeepWiki-like MCP
  server on loopback (`DEEPWIKI_MCP_URL`). Nothing else outside the machine is there.
- A `curl` that answers 400 or more fails the example, unless the comment line right above the
  command says the status it answers: `# → 404 model_not_found`. The status must then match.
- `.venv/bin/pytest ...` commands are not run (the suite runs those tests anyway), but every
  test path they name (`tests/x.py`, `tests/x.py::test_y`) must exist.
- A block that needs what the test cannot give starts with a marker line, `# needs: AWS`,
  `# needs: the internet` or `# needs: Docker`, and is skipped (and listed as skipped).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SHELL = "bash"
# Languages that would hide a shell example from the test.
OTHER_SHELLS = frozenset({"sh", "shell", "console", "zsh", "shell-session", "sh-session"})
NEEDS = {
    "AWS": "an AWS account, credentials or AWS's tools (aws CLI, SAM CLI)",
    "the internet": "servers outside this machine that the docs test does not stand in for",
    "Docker": "a Docker engine (a container the guide starts beside the service)",
}
NEEDS_MARKER = re.compile(r"^#\s*needs:\s*(?P<needs>.+?)\s*$")
EXPECTED_STATUS = re.compile(r"^(?P<indent>\s*)#\s*→\s*(?P<status>[1-5]\d\d)\b")
# Per guide: its name, seconds, blocks run and blocks skipped (for the summary of the run).
DOCS_TIMES = pytest.StashKey[list[tuple[str, float, int, int]]]()
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def display_name(document: Path) -> str:
    """The document's path from the repository's root (its name, outside the repository)."""
    return str(document.relative_to(ROOT)) if document.is_relative_to(ROOT) else document.name


def documents(root: Path = ROOT) -> list[Path]:
    """The guides: README.md, then docs/*.md by name."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """A fenced block of a guide: `line` is the 1-based line of its first content line."""

    document: Path
    line: int
    language: str
    lines: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{display_name(self.document)}:{self.line}"

    @property
    def needs(self) -> tuple[str, ...]:
        """What the block's leading `# needs:` lines name."""
        found = []
        for line in self.lines:
            match = NEEDS_MARKER.match(line.strip())
            if match is None:
                break
            found.extend(part.strip() for part in match["needs"].split(","))
        return tuple(found)


def blocks(document: Path) -> Iterator[Block]:
    """Every fenced block of a document (indented fences too, their indentation removed)."""
    lines = document.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        content: list[str] = []
        index += 1
        start = index + 1
        while index < len(lines) and not re.match(rf"^\s*{re.escape(fence)}\s*$", lines[index]):
            line = lines[index]
            content.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            index += 1
        index += 1
        yield Block(document, start, opening["info"].strip().split(" ")[0], tuple(content))


def shell_blocks(document: Path) -> list[Block]:
    return [block for block in blocks(document) if block.language == SHELL]


@dataclass(frozen=True)
class Session:
    """One document's runnable blocks as one bash script, and where each script line came from."""

    script: str
    origins: tuple[str, ...]  # script line (1-based) - 1 -> "document:line", or "" for the prelude
    skipped: tuple[Block, ...]
    ran: tuple[Block, ...]

    def origin(self, script_line: int) -> str:
        if 1 <= script_line <= len(self.origins):
            return self.origins[script_line - 1] or "the docs test's prelude"
        return "?"


# Defined before the first block: what makes a command of a guide fail, or stand in for it.
PRELUDE = r"""set -euo pipefail
trap 'echo "docs-test: exit $? at script line $LINENO: $BASH_COMMAND" >&2' ERR
__docs_expected=""
__expect_status() { __docs_expected="$1"; }
curl() {
  local body status rc=0 expected="$__docs_expected"
  __docs_expected=""
  body=$(mktemp)
  status=$(command curl --silent --show-error --output "$body" --write-out '%{http_code}' "$@") || rc=$?
  cat "$body"
  rm -f "$body"
  if [ "$rc" -ne 0 ]; then
    echo "docs-test: curl failed (exit $rc): curl $*" >&2
    return "$rc"
  fi
  if [ -n "$expected" ]; then
    if [ "$status" != "$expected" ]; then
      echo "docs-test: HTTP $status where the guide says $expected: curl $*" >&2
      return 1
    fi
  elif [ "$status" -ge 400 ]; then
    echo "docs-test: HTTP $status: curl $*" >&2
    return 1
  fi
}
__docs_pytest() {
  local skip_next="" argument
  for argument in "$@"; do
    if [ -n "$skip_next" ]; then skip_next=""; continue; fi
    case "$argument" in
      -k|-m|-p|-o|-n|-c|--durations|--maxfail|--rootdir) skip_next=1 ;;
      -*) ;;
      *)
        if [ ! -e "${argument%%::*}" ]; then
          echo "docs-test: pytest names $argument, which does not exist" >&2
          return 1
        fi ;;
    esac
  done
  echo "pytest $*: every test path exists (the suite runs them)"
}
make() {
  case "${1-}" in
    dev) echo "make dev: the docs test's own local runtime is serving"; return 0 ;;
    test) echo "make test: the command that runs the docs test"; return 0 ;;
  esac
  command make "$@"
}
"""


def _runnable(line: str, substitutions: Mapping[str, str]) -> str:
    expected = EXPECTED_STATUS.match(line)
    if expected is not None:
        return f"{expected['indent']}__expect_status {expected['status']}  {line.strip()}"
    for old, new in substitutions.items():
        line = line.replace(old, new)
    return re.sub(r"(?<![\w/.-])\.venv/bin/pytest\b", "__docs_pytest", line)


def session(document: Path, substitutions: Mapping[str, str]) -> Session:
    """The document's ```bash blocks without a `# needs:` marker, in order, as one script."""
    script, origins = PRELUDE.splitlines(), [""] * len(PRELUDE.splitlines())
    skipped, ran = [], []
    for block in shell_blocks(document):
        if block.needs:
            skipped.append(block)
            continue
        ran.append(block)
        script.append(f"# {block.where}")
        origins.append("")
        for offset, line in enumerate(block.lines):
            script.append(_runnable(line, substitutions))
            origins.append(f"{display_name(block.document)}:{block.line + offset}")
    return Session("\n".join(script) + "\n", tuple(origins), tuple(skipped), tuple(ran))


_SCRIPT_LINE = re.compile(r"^(?:docs-test: exit \d+ at script line|bash: line) (?P<line>\d+):")
# Left out of the session's environment: a user's fresh shell has no make of ours above it.
_MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR")


def run(guide: Session, environment: Mapping[str, str], *, timeout_s: float) -> tuple[int, str]:
    """Run the script in a bash of its own, from the repository's root; its process group is
    killed if it outlives `timeout_s`. The exit status (-1 on timeout) and the output."""
    process = subprocess.Popen(
        ["bash", "-c", guide.script],
        cwd=ROOT,
        env={name: value for name, value in environment.items() if name not in _MAKE_VARIABLES},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return -1, output + f"\ndocs-test: still running after {timeout_s:.0f} s"
    return process.returncode, output


def explain(guide: Session, output: str) -> str:
    """The end of the output, with the guide's line named for each script line that failed."""
    lines = output.splitlines()[-60:]
    for line in list(lines):
        match = _SCRIPT_LINE.match(line)
        if match is not None:
            lines.append(f"the failing command is at {guide.origin(int(match['line']))}")
    return "\n".join(lines)

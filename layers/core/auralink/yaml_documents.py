"""The YAML of the service's own files: the MCP configuration, the models and their prices.

The core layer's build parses the files it ships and writes their documents beside this module
(`COMPILED`: each file's text's SHA-256 and its document as JSON). A function that reads one of
those texts then takes its document from there, without importing PyYAML: about 13 ms of a cold
start (docs/benchmarks.md). Any other text (an operator's own file, a test's, a development tree
without a build) is parsed, by LibYAML's parser when PyYAML has it, as its Lambda wheels do.

The key is the text itself: an edited file is never answered with the document of its old text.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

COMPILED = Path(__file__).with_name("yaml_documents.json")


class NotYaml(ValueError):
    """The text is not YAML: ``kind`` is the parser's error, ``line`` (from 1) where it stopped."""

    def __init__(self, kind: str, line: int | None) -> None:
        super().__init__(kind if line is None else f"{kind} at line {line}")
        self.kind = kind
        self.line = line


def safe_load(text: str) -> Any:
    """The document in ``text``, as `yaml.safe_load` reads it."""
    compiled = _compiled().get(_digest(text))
    if compiled is not None:
        # Parsed again from JSON at each call: the caller may change what it gets.
        return json.loads(compiled)
    return _parse(text)


def _parse(text: str) -> Any:
    import yaml  # noqa: PLC0415  # only for a text the build did not compile

    # The same constructor and resolver as `yaml.SafeLoader`, on LibYAML's scanner and parser: a
    # tenth of the pure-Python parser's time (the models file: 2.4 against 21 ms).
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506  # a safe loader, LibYAML's or PyYAML's
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise NotYaml(type(exc).__name__, None if mark is None else mark.line + 1) from None


_cache: dict[str, str] | None = None


def _compiled() -> dict[str, str]:
    global _cache  # noqa: PLW0603  # read once per container
    if _cache is None:
        try:
            _cache = json.loads(COMPILED.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            _cache = {}
    return _cache


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compile_files(paths: list[Path], into: Path = COMPILED) -> None:
    """Write ``into`` with the documents of ``paths`` (the core layer's build)."""
    compiled = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        document = _parse(text)
        as_json = json.dumps(document, separators=(",", ":"))
        # JSON has no dates and no keys but strings: such a file must fail the build, not change.
        if json.loads(as_json) != document:
            raise ValueError(f"{path.name}: its document does not survive JSON unchanged")
        compiled[_digest(text)] = as_json
    into.write_text(json.dumps(compiled, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    compile_files([Path(argument) for argument in sys.argv[1:]])

"""Templates over a run's state: ``{path}`` placeholders, ``{{`` and ``}}`` for literal braces.

A path starts at one of its language's roots and goes down by ``.name`` segments (object keys) and
``[n]`` indices (list items). A workflow's roots are ``input`` (the run's input) and ``outputs``
(the outputs of the nodes done so far), as in ``{outputs.search.results[0].title}``; a pipeline
names its own (`Roots`). A value renders as itself when it is a string and as compact JSON
otherwise. Rendering never evaluates anything: a path is a lookup, nothing more.

A rendering may be given a size (``max_chars``): the sizes of its parts are added up as each is
made, and the rendering is refused (`TemplateTooLarge`) as soon as they pass it, before the whole
string exists. A value that several placeholders name is made into text once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Roots:
    """The names a language's paths start at, and how its messages show each (``outputs.<node id>``)."""

    names: tuple[str, ...]
    shown: tuple[str, ...]

    def listed(self) -> str:
        """The names as a message lists them: ``input or outputs``, ``a, b or c``."""
        *first, last = self.names
        return f"{', '.join(first)} or {last}" if first else last


WORKFLOW = Roots(names=("input", "outputs"), shown=("input.<key>", "outputs.<node id>"))
_NAME = r"[A-Za-z0-9_-]+"
_SEGMENT = re.compile(rf"\.(?P<name>{_NAME})|\[(?P<index>[0-9]{{1,6}})\]")
_ROOT = re.compile(rf"^(?P<root>{_NAME})")
_PREVIEW = 40

Segment = str | int


class TemplateError(ValueError):
    """A template that cannot be parsed, or a path that is missing from the state at run time."""

    code = "template_error"


class TemplateTooLarge(TemplateError):
    """The rendered text would pass the rendering's size."""

    code = "template_too_large"


# Compact JSON, made piece by piece so that its size is known before all of it exists.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def _preview(text: str) -> str:
    return text if len(text) <= _PREVIEW else text[:_PREVIEW] + "..."


def parse_path(path: str, roots: Roots = WORKFLOW) -> tuple[Segment, ...]:
    """The segments of a path: its root, then key names (str) and list indices (int)."""
    root = _ROOT.match(path)
    if root is None:
        raise TemplateError(f"empty or malformed placeholder {{{_preview(path)}}}")
    if root["root"] not in roots.names:
        raise TemplateError(
            f"unknown root {root['root']!r} in {{{_preview(path)}}}: paths start with {roots.listed()}"
        )
    segments: list[Segment] = [root["root"]]
    position = root.end()
    while position < len(path):
        segment = _SEGMENT.match(path, position)
        if segment is None:
            raise TemplateError(
                f"malformed path {{{_preview(path)}}} at {_preview(path[position:])!r}:"
                " use .name for keys and [n] for list items"
            )
        segments.append(segment["name"] if segment["name"] is not None else int(segment["index"]))
        position = segment.end()
    return tuple(segments)


def _pieces(template: str) -> Iterator[tuple[str, str]]:
    """("text", literal) and ("path", path) pieces, in order."""
    literal: list[str] = []
    position = 0
    while position < len(template):
        char = template[position]
        if char == "{" and template.startswith("{{", position):
            literal.append("{")
            position += 2
        elif char == "}" and template.startswith("}}", position):
            literal.append("}")
            position += 2
        elif char == "{":
            close = template.find("}", position + 1)
            opened = template.find("{", position + 1)
            if close == -1 or (opened != -1 and opened < close):
                raise TemplateError(
                    f"unclosed {{ at character {position + 1}: write {{{{ for a literal brace"
                )
            if literal:
                yield "text", "".join(literal)
                literal = []
            yield "path", template[position + 1 : close]
            position = close + 1
        elif char == "}":
            raise TemplateError(f"unmatched }} at character {position + 1}: write }}}} for a literal brace")
        else:
            literal.append(char)
            position += 1
    if literal:
        yield "text", "".join(literal)


def check(template: str, roots: Roots = WORKFLOW) -> list[str]:
    """The paths of the template's placeholders; TemplateError when it is malformed."""
    paths = []
    for kind, value in _pieces(template):
        if kind == "path":
            parse_path(value, roots)
            paths.append(value)
    return paths


def lookup(path: str, state: dict[str, Any], roots: Roots = WORKFLOW) -> Any:
    """The value at ``path`` in the state; TemplateError naming the path when it is missing."""
    segments = parse_path(path, roots)
    value: Any = state
    for depth, segment in enumerate(segments):
        if isinstance(segment, int):
            found = isinstance(value, list) and segment < len(value)
            value = value[segment] if found else None
        else:
            found = isinstance(value, dict) and segment in value
            value = value[segment] if found else None
        if not found:
            where = _describe(segments[: depth + 1])
            raise TemplateError(f"{where} is missing (in {{{_preview(path)}}})")
    return value


def _describe(segments: tuple[Segment, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in segments).lstrip(".")


def as_text(value: Any) -> str:
    """A value as it appears in rendered text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class _Budget:
    """What is left of a rendering's size, and the text of each path already made."""

    def __init__(self, state: dict[str, Any], max_chars: int | None, roots: Roots) -> None:
        self._state = state
        self._roots = roots
        self._max_chars = max_chars
        self._left = max_chars
        self._texts: dict[str, str] = {}

    def spend(self, size: int) -> None:
        if self._left is None:
            return
        self._left -= size
        if self._left < 0:
            raise TemplateTooLarge(f"the rendered text would be longer than {self._max_chars} characters")

    def text_of(self, path: str) -> str:
        text = self._texts.get(path)
        if text is None:
            text = self._texts[path] = self._make(lookup(path, self._state, self._roots))
        self.spend(len(text))
        return text

    def _make(self, value: Any) -> str:
        if isinstance(value, str) or self._left is None:
            return as_text(value)
        pieces: list[str] = []
        size = 0
        for piece in _JSON.iterencode(value):
            size += len(piece)
            if size > self._left:
                self.spend(size)  # refused: the value alone passes what is left
            pieces.append(piece)
        return "".join(pieces)


def render(
    template: str, state: dict[str, Any], *, max_chars: int | None = None, roots: Roots = WORKFLOW
) -> str:
    """The template with every placeholder replaced by its value in ``state``; `TemplateTooLarge`
    when the result would pass ``max_chars``."""
    return _render(template, _Budget(state, max_chars, roots))


def _render(template: str, budget: _Budget) -> str:
    parts: list[str] = []
    for kind, value in _pieces(template):
        if kind == "text":
            budget.spend(len(value))
            parts.append(value)
        else:
            parts.append(budget.text_of(value))
    return "".join(parts)


def render_value(
    value: Any, state: dict[str, Any], *, max_chars: int | None = None, roots: Roots = WORKFLOW
) -> Any:
    """A JSON value with every string inside (at any depth, object keys excepted) rendered;
    ``max_chars`` bounds all its rendered strings together."""
    return _render_value(value, _Budget(state, max_chars, roots))


def _render_value(value: Any, budget: _Budget) -> Any:
    if isinstance(value, str):
        return _render(value, budget)
    if isinstance(value, list):
        return [_render_value(item, budget) for item in value]
    if isinstance(value, dict):
        return {key: _render_value(item, budget) for key, item in value.items()}
    return value


def strings_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a JSON value with its path (``.key`` and ``[n]``), as `render_value` sees them."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, f"{path}.{key}")

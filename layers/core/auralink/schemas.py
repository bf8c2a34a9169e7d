"""JSON Schemas that users and MCP servers supply, checked and applied without unbounded work.

A schema from outside is data an attacker may have written, and so is the value checked against
it. Two things in JSON Schema would let them spend the service's CPU or reach its network:

- **Regular expressions** (``pattern``, the keys of ``patternProperties``). Python's `re`
  backtracks: ``^(a+)+$`` against a long ``"aaa…!"`` runs for hours. Here they run on RE2, whose
  time is linear in the text. A pattern RE2 cannot compile (backreferences, lookarounds) is
  refused: RE2 has no way to run it in bounded time. ``unevaluatedProperties`` together with
  ``patternProperties`` is refused too, because jsonschema evaluates that pair with `re` itself.
- **References** (``$ref``, ``$dynamicRef``). jsonschema fetches a remote reference over HTTP by
  default, from inside the service's network. Only references inside the schema (``#...``) are
  accepted, and validation runs with a registry that never retrieves anything.

`problems` lists what is wrong with a schema; `errors` checks a value against a schema that has
none of the `unsupported` problems.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import re2
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from auralink.errors import ValidationFailed

Path = tuple[str | int, ...]

_REFERENCES = ("$ref", "$dynamicRef")
# Keywords whose values are data, not schemas: a "$ref" or "pattern" inside them is just a value.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
# RE2's memory for one compiled pattern (its default is 8 MiB); larger patterns fail to compile.
_RE2_MAX_MEM = 2 * 1024 * 1024
_SHOWN_PATTERN = 100
# The largest schema text whose problems are kept (at most 256 are).
_MAX_KEPT_SCHEMA = 64 * 1024


class UnsupportedSchema(ValidationFailed):
    """A schema the service will not apply: a pattern RE2 cannot run, or a reference outside it."""

    code = "unsupported_schema"


@dataclass(frozen=True)
class SchemaProblem:
    path: Path  # inside the schema
    message: str
    # True: valid JSON Schema that the service will not apply (see the module's docstring);
    # False: not valid JSON Schema at all.
    unsupported: bool


class _PatternNotSupported(Exception):
    pass


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _RE2_MAX_MEM
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error:
        raise _PatternNotSupported(pattern) from None


def _search(pattern: str, text: str) -> bool:
    return _compiled(pattern).search(text) is not None


def _is_re2_pattern(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        _compiled(instance)
    except _PatternNotSupported:
        return False
    return True


# The meta-schemas mark ``pattern`` and the keys of ``patternProperties`` as format "regex":
# checking that format with RE2 finds, by their path, exactly the patterns RE2 cannot run.
_FORMATS = FormatChecker(formats=())
_FORMATS.checks("regex")(_is_re2_pattern)


def problems(schema: Any) -> list[SchemaProblem]:
    """What keeps ``schema`` from being applied; empty when `errors` may check values against it.

    Kept by the schema's text: a tool's schema is checked at each of its calls, and checking it
    against the meta-schema takes most of a millisecond."""
    try:
        text = json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError):
        return _problems(schema)
    if len(text) > _MAX_KEPT_SCHEMA:
        return _problems(schema)
    return list(_kept_problems(text))


@functools.lru_cache(maxsize=256)
def _kept_problems(text: str) -> tuple[SchemaProblem, ...]:
    return tuple(_problems(json.loads(text)))


def _problems(schema: Any) -> list[SchemaProblem]:
    if not isinstance(schema, Mapping | bool):
        return [SchemaProblem((), "a schema must be an object or a boolean", unsupported=False)]
    if isinstance(schema, bool):
        return []
    schema = dict(schema)
    found = list(_reference_problems(schema))
    found += _unevaluated_pattern_problems(schema)
    validator_class = _validator_class(schema)
    meta = validator_class(validator_class.META_SCHEMA, format_checker=_FORMATS)
    for error in meta.iter_errors(schema):
        regex = error.validator == "format" and error.validator_value == "regex"
        message = (
            f"the pattern {str(error.instance)[:_SHOWN_PATTERN]!r} is not supported: backreferences"
            " and lookarounds cannot run in linear time"
            if regex
            else error.message[:300]
        )
        problem = SchemaProblem(tuple(error.absolute_path), message, unsupported=regex)
        # The 2020-12 meta-schema reaches a keyword through several vocabularies: one problem each.
        if problem not in found:
            found.append(problem)
    return found


def errors(schema: Mapping[str, Any] | bool, instance: Any) -> list[ValidationError]:
    """Where ``instance`` breaks ``schema``, sorted by path; the schema must have no `problems`.

    Raises `UnsupportedSchema` for what only shows while validating (a pattern of an old draft's
    ``patternProperties``, a reference to nothing)."""
    document: dict[str, Any] | bool = schema if isinstance(schema, bool) else dict(schema)
    validator_class = _safe_class(_validator_class(document))
    # A registry without a retriever: a reference it does not hold is unresolvable, never fetched.
    validator = validator_class(document, registry=Registry())
    try:
        found = list(validator.iter_errors(instance))
    except _PatternNotSupported as exc:
        shown = str(exc)[:_SHOWN_PATTERN]
        raise UnsupportedSchema(f"The schema's pattern {shown!r} is not supported") from None
    except Unresolvable:
        raise UnsupportedSchema("The schema refers to something it does not contain") from None
    return sorted(found, key=lambda error: list(map(str, error.absolute_path)))


def _validator_class(schema: Mapping[str, Any] | bool) -> type[Validator]:
    return validators.validator_for(schema, default=Draft202012Validator)


def _reference_problems(schema: dict[str, Any]) -> Iterator[SchemaProblem]:
    """Each ``$ref`` that does not point inside the schema: nothing is fetched from elsewhere."""
    resource = DRAFT202012.create_resource(schema)
    base = resource.id() or ""
    resolver = Registry().with_resource(base, resource).resolver(base_uri=base)
    for path, key, value in _keywords(schema):
        if key not in _REFERENCES or not isinstance(value, str):
            continue
        if not value.startswith("#"):
            yield SchemaProblem(
                (*path, key),
                f"{key} {value[:100]!r} points outside the schema: only #/... references are followed",
                unsupported=True,
            )
            continue
        try:
            resolver.lookup(value)
        except Unresolvable:
            yield SchemaProblem(
                (*path, key), f"{key} {value[:100]!r} points at nothing in the schema", unsupported=False
            )


def _unevaluated_pattern_problems(schema: dict[str, Any]) -> Iterator[SchemaProblem]:
    keys = [(path, key) for path, key, _ in _keywords(schema)]
    if any(key == "patternProperties" for _, key in keys):
        for path, key in keys:
            if key == "unevaluatedProperties":
                yield SchemaProblem(
                    (*path, key),
                    "unevaluatedProperties is not supported in a schema that uses patternProperties",
                    unsupported=True,
                )


def _keywords(schema: Any) -> Iterator[tuple[Path, str, Any]]:
    """Every (path of the object, key, value) of the schema, data keywords' values left out."""
    pending: list[tuple[Any, Path]] = [(schema, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, list):
            pending.extend((child, (*path, index)) for index, child in enumerate(item))
        if not isinstance(item, dict):
            continue
        for key, child in item.items():
            yield path, key, child
            if key not in _DATA_KEYWORDS:
                pending.append((child, (*path, key)))


# ---------------------------------------------------------------- keywords on RE2
# Each takes jsonschema's validator instance (``Any``: its protocol omits ``descend``).


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"does not match {pattern[:_SHOWN_PATTERN]!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = sorted(
        key
        for key in instance
        if key not in properties and not any(_search(pattern, key) for pattern in patterns)
    )
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        shown = ", ".join(repr(extra[:100]) for extra in extras[:10])
        yield ValidationError(f"Additional properties are not allowed ({shown} unexpected)")


_RE2_KEYWORDS = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}


@functools.cache
def _safe_class(validator_class: type[Validator]) -> type[Validator]:
    """The draft's validator with every keyword that runs a regular expression on RE2."""
    replaced = {
        keyword: check for keyword, check in _RE2_KEYWORDS.items() if keyword in validator_class.VALIDATORS
    }
    extended = validators.extend(validator_class, replaced)  # type: ignore[no-untyped-call]
    return cast("type[Validator]", extended)

"""`Fn::ForEach` and `Fn::FindInMap` expanded as the AWS::LanguageExtensions transform does.

CloudFormation runs AWS::LanguageExtensions before the SAM transform, so SAM, the deployed stack and
everything that reads the template (the local runtime, the tests, the OpenAPI generator) must see
the loops already expanded. In the Conditions, Resources and Outputs sections:

- a key `Fn::ForEach::<Loop>` holding `[Identifier, Collection, {OutputKey: OutputValue, ...}]`
  is replaced by one copy of its body per item of the collection, where `${Identifier}` in keys and
  strings becomes the item, `&{Identifier}` the item without its non-alphanumeric characters, and
  `{"Ref": "Identifier"}` the item itself. Bodies may hold further loops (five deep at most), also
  inside a resource's properties. A collection is a list, a `Ref` to a list parameter or an
  `Fn::FindInMap` that gives a list. Expanded keys must not collide with each other or with the
  keys beside the loop;
- `Fn::FindInMap` whose three keys are plain strings is replaced by the mapping's value, or by its
  `DefaultValue` when the mapping has no such entry;
- an `Fn::Sub` left without variables becomes its string, and `Ref` to such a string a plain `Ref`:
  that is how `Ref: !Sub "${Identifier}Suffix"` names a resource that a loop made.

Every other intrinsic function is left for CloudFormation (`resolve_conditions` in
`infra.template` resolves the `Fn::If`s for a set of parameters).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

FOR_EACH_PREFIX = "Fn::ForEach::"
MAX_LOOP_DEPTH = 5
_SECTIONS = ("Conditions", "Resources", "Outputs")
# `${Name}` but not the escape `${!Name}`, which Fn::Sub renders as the literal `${Name}`.
_SUB_VARIABLE = re.compile(r"\$\{(?!!)[^}]*\}")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]")


class TemplateError(ValueError):
    """The template is one that AWS::LanguageExtensions would refuse."""


def expand_language_extensions(
    template: Mapping[str, Any], parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A copy of ``template`` with every `Fn::ForEach` expanded and every literal `Fn::FindInMap`
    resolved. ``parameters`` give the values of list parameters that a collection refers to
    (their defaults otherwise)."""
    expander = _Expander(template, parameters or {})
    expanded = copy.deepcopy(dict(template))
    for section in _SECTIONS:
        if isinstance(expanded.get(section), dict):
            loops_expanded = expander.expand(expanded[section], outer=(), depth=0)
            expanded[section] = _simplify(loops_expanded, expander.mappings)
    return expanded


def is_for_each(key: Any) -> bool:
    return isinstance(key, str) and key.startswith(FOR_EACH_PREFIX)


def substitute(node: Any, identifier: str, value: str) -> Any:
    """``node`` with the loop's identifier replaced by ``value`` in keys, strings and `Ref`s."""
    if isinstance(node, str):
        stripped = _NOT_ALPHANUMERIC.sub("", value)
        return node.replace("${" + identifier + "}", value).replace("&{" + identifier + "}", stripped)
    if isinstance(node, list):
        return [substitute(item, identifier, value) for item in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return value
        return {substitute(k, identifier, value): substitute(v, identifier, value) for k, v in node.items()}
    return node


class _Expander:
    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.mappings: Mapping[str, Any] = template.get("Mappings") or {}
        self._declared: Mapping[str, Any] = template.get("Parameters") or {}
        self._parameters = parameters
        self._resource_ids = {key for key in (template.get("Resources") or {}) if not is_for_each(key)}

    def expand(self, node: Any, outer: tuple[str, ...], depth: int) -> Any:
        if isinstance(node, list):
            return [self.expand(item, outer, depth) for item in node]
        if not isinstance(node, dict):
            return node
        expanded: dict[str, Any] = {}
        for key, value in node.items():
            if is_for_each(key):
                for name, item in self._loop(key, value, outer, depth).items():
                    self._add(expanded, name, item, key)
            else:
                self._add(expanded, key, self.expand(value, outer, depth), key)
        return expanded

    def _loop(self, key: str, value: Any, outer: tuple[str, ...], depth: int) -> dict[str, Any]:
        if depth >= MAX_LOOP_DEPTH:
            raise TemplateError(f"{key}: loops nest at most {MAX_LOOP_DEPTH} deep")
        if not (isinstance(value, list) and len(value) == 3 and isinstance(value[2], dict)):
            raise TemplateError(f"{key} must be [Identifier, Collection, {{OutputKey: OutputValue}}]")
        identifier, collection, body = value
        self._check_names(key, identifier, outer)
        expanded: dict[str, Any] = {}
        for item in self._collection(key, collection):
            copy_of_body = substitute(copy.deepcopy(body), identifier, item)
            for name, output in self.expand(copy_of_body, (*outer, identifier), depth + 1).items():
                self._add(expanded, name, output, key)
        return expanded

    def _check_names(self, key: str, identifier: Any, outer: tuple[str, ...]) -> None:
        loop_name = key.removeprefix(FOR_EACH_PREFIX)
        if not loop_name or loop_name in self._declared or loop_name in self._resource_ids:
            raise TemplateError(f"{key}: the loop's name must be unique in the template")
        if not isinstance(identifier, str) or not identifier:
            raise TemplateError(f"{key}: the identifier must be a non-empty string")
        if identifier in self._declared or identifier in outer:
            raise TemplateError(f"{key}: the identifier {identifier!r} is already a parameter or a loop's")

    def _collection(self, key: str, collection: Any) -> list[str]:
        if isinstance(collection, dict) and set(collection) == {"Ref"}:
            collection = self._list_parameter(key, collection["Ref"])
        elif isinstance(collection, dict):
            collection = _simplify(collection, self.mappings)
        if not isinstance(collection, list) or not all(isinstance(i, str | int | float) for i in collection):
            raise TemplateError(f"{key}: the collection must resolve to a list of strings: {collection!r}")
        return [_to_string(item) for item in collection]

    def _list_parameter(self, key: str, name: Any) -> list[str]:
        declared = self._declared.get(name) if isinstance(name, str) else None
        if declared is None or "List" not in str(declared.get("Type", "")):
            raise TemplateError(f"{key}: the collection may refer to a list parameter only, not {name!r}")
        value = self._parameters.get(name, declared.get("Default"))
        if value is None:
            raise TemplateError(f"{key}: the parameter {name!r} has no value and no default")
        return [item.strip() for item in str(value).split(",")]

    @staticmethod
    def _add(expanded: dict[str, Any], name: str, value: Any, origin: str) -> None:
        if name in expanded:
            raise TemplateError(f"{origin}: {name!r} is defined twice")
        expanded[name] = value


def _to_string(item: str | float) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    return str(item)


def _simplify(node: Any, mappings: Mapping[str, Any]) -> Any:
    """``node`` with what the transform resolves resolved, innermost first."""
    if isinstance(node, list):
        return [_simplify(item, mappings) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _simplify(value, mappings) for key, value in node.items()}
    if len(node) != 1:
        return node
    (function, argument), *_ = node.items()
    if function == "Fn::FindInMap" and isinstance(argument, list):
        return _find_in_map(argument, mappings, node)
    if function == "Fn::Sub" and isinstance(argument, str) and not _SUB_VARIABLE.search(argument):
        return argument.replace("${!", "${")
    return node


def _find_in_map(argument: list[Any], mappings: Mapping[str, Any], node: dict[str, Any]) -> Any:
    keys, options = argument[:3], argument[3:]
    if len(keys) != 3 or not all(isinstance(key, str) for key in keys):
        return node
    if options and not (isinstance(options[0], dict) and set(options[0]) == {"DefaultValue"}):
        raise TemplateError(f"Fn::FindInMap {keys}: its fourth argument must be {{DefaultValue: ...}}")
    mapping_name, top_key, second_key = keys
    entry = (mappings.get(mapping_name) or {}).get(top_key) or {}
    if isinstance(entry, dict) and second_key in entry:
        return copy.deepcopy(entry[second_key])
    if options:
        return copy.deepcopy(options[0]["DefaultValue"])
    raise TemplateError(f"Fn::FindInMap: Mappings has no {mapping_name}.{top_key}.{second_key}")

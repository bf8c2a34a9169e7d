"""Loads `mcp-config.yaml`: environment overrides, `${VAR}` substitution, validation.

Order: parse YAML, deep-merge the section of the current environment over the base, substitute
`${VAR}` / `${VAR:-default}` in every string (so an error can name the key that asked for the
variable), then validate with pydantic. Every error names the key path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auralink.config.models import McpConfig
from auralink.errors import ConfigurationError

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ENVIRONMENTS_KEY = "environments"


def substitute(value: str, *, path: str, environ: Mapping[str, str]) -> str:
    """Replace `${VAR}` (required) and `${VAR:-default}` (default when unset or empty)."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        raise ConfigurationError(f"{path}: environment variable {name} is not set")

    return _VARIABLE.sub(replace, value)


def referenced_variables(path: Path) -> set[str]:
    """The names of the environment variables the file's `${VAR}` substitutions read."""
    return set(match.group(1) for match in _VARIABLE.finditer(path.read_text(encoding="utf-8")))


def _substitute_tree(node: Any, *, path: str, environ: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return substitute(node, path=path, environ=environ)
    if isinstance(node, dict):
        return {
            key: _substitute_tree(child, path=f"{path}.{key}" if path else str(key), environ=environ)
            for key, child in node.items()
        }
    if isinstance(node, list):
        return [
            _substitute_tree(child, path=f"{path}[{index}]", environ=environ)
            for index, child in enumerate(node)
        ]
    return node


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(root)"
        problems.append(f"{path}: {item['msg']}")
    return "; ".join(problems)


def parse_config(
    text: str, *, environment: str, environ: Mapping[str, str] | None = None, source: str = "mcp-config"
) -> McpConfig:
    # With the configuration: at the first request that reads it.
    from auralink import yaml_documents  # noqa: PLC0415

    try:
        raw = yaml_documents.safe_load(text)
    except yaml_documents.NotYaml as exc:
        raise ConfigurationError(f"{source}: not valid YAML ({exc.kind})") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: the top level must be a mapping")
    overrides = raw.pop(_ENVIRONMENTS_KEY, None) or {}
    if not isinstance(overrides, dict):
        raise ConfigurationError(f"{source}: {_ENVIRONMENTS_KEY} must be a mapping")
    unknown = set(overrides) - {"development", "production"}
    if unknown:
        raise ConfigurationError(f"{source}: {_ENVIRONMENTS_KEY}: unknown environment {sorted(unknown)[0]}")
    merged = deep_merge(raw, overrides.get(environment) or {})
    resolved = _substitute_tree(merged, path="", environ=os.environ if environ is None else environ)
    try:
        return McpConfig.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigurationError(f"{source}: {_describe(exc)}") from None


def load_config(path: Path, *, environment: str, environ: Mapping[str, str] | None = None) -> McpConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigurationError(f"MCP configuration file not found: {path.name}") from None
    return parse_config(text, environment=environment, environ=environ, source=path.name)

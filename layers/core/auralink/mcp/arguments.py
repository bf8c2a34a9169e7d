"""Tool arguments checked against the tool's input schema before anything is sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError

from auralink.errors import ValidationFailed

_MAX_REPORTED = 10


def _path(parts: Any) -> str:
    text = "arguments"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def check(arguments: Mapping[str, Any], schema: Mapping[str, Any], *, tool: str) -> None:
    """Raise 422 naming each field that does not fit; a server's broken schema is not the caller's fault."""
    validator_class = validators.validator_for(dict(schema), default=Draft202012Validator)
    try:
        validator_class.check_schema(dict(schema))
    except SchemaError:
        # The server published a schema no validator accepts: let the server judge the arguments.
        return
    errors = sorted(
        validator_class(dict(schema)).iter_errors(dict(arguments)), key=lambda error: list(error.path)
    )
    if not errors:
        return
    details = [
        {"field": _path(error.absolute_path), "message": error.message[:300], "type": str(error.validator)}
        for error in errors[:_MAX_REPORTED]
    ]
    raise ValidationFailed(
        f"Arguments do not match the input schema of {tool}: {details[0]['field']}: {details[0]['message']}",
        code="invalid_tool_arguments",
        details=details,
    )

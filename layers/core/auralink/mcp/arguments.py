"""Tool arguments checked against the tool's input schema before anything is sent.

The schema is the server's: its patterns run on RE2 and its references stay inside it
(`auralink.schemas`). A schema the service will not apply is a 422 ``unsupported_schema`` naming
the place in the schema, and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auralink import schemas
from auralink.errors import ValidationFailed

_MAX_REPORTED = 10


def _path(root: str, parts: Any) -> str:
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def check(arguments: Mapping[str, Any], schema: Mapping[str, Any], *, tool: str) -> None:
    """Raise 422 naming each field that does not fit; a server's broken schema is not the caller's fault."""
    problems = schemas.problems(schema)
    unsupported = [problem for problem in problems if problem.unsupported]
    if unsupported:
        details = [
            {"field": _path("input_schema", problem.path), "message": problem.message}
            for problem in unsupported[:_MAX_REPORTED]
        ]
        raise schemas.UnsupportedSchema(
            f"The input schema of {tool} cannot be applied: {details[0]['field']}: {details[0]['message']}",
            details=details,
        )
    if problems:
        # The server published a schema no validator accepts: let the server judge the arguments.
        return
    errors = schemas.errors(schema, dict(arguments))
    if not errors:
        return
    details = [
        {
            "field": _path("arguments", error.absolute_path),
            "message": error.message[:300],
            "type": str(error.validator),
        }
        for error in errors[:_MAX_REPORTED]
    ]
    raise ValidationFailed(
        f"Arguments do not match the input schema of {tool}: {details[0]['field']}: {details[0]['message']}",
        code="invalid_tool_arguments",
        details=details,
    )

"""Where a pipeline's problems are: paths into the request body, as the API's 422 names them."""

from __future__ import annotations

FIELD = "body.definition"
SCHEMA_FIELD = "body.parameters_schema"

Problem = dict[str, str]


def field_of(root: str, *parts: str | int) -> str:
    """``root`` followed by ``.key`` and ``[index]`` parts: ``body.definition.steps[2].prompt``."""
    found = root
    for part in parts:
        found += f"[{part}]" if isinstance(part, int) else f".{part}"
    return found


def step_field(position: int, *parts: str | int) -> str:
    return field_of(FIELD, "steps", position, *parts)


def problem_at(field: str, message: str) -> Problem:
    return {"field": field, "message": message}

"""The JSON value of a request body, read as strictly as what comes after it needs.

Python's parser takes more than the rest of the service can hold: ``NaN`` and ``Infinity`` (not
JSON), numbers too large for a float (``1e400`` would be infinity), escapes of lone surrogates
(``"\\ud800"``, which no UTF-8 text can carry), nesting as deep as its own recursion allows (every
recursive reader after it, Postgres' among them, has a limit), and the NUL character (Postgres
stores no text, and no JSON, that holds one). Each of these is the client's to fix: 400
``invalid_json`` when the body is not JSON text the service can read, 422 ``validation_failed``
naming the field for a NUL character in a string.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from auralink import errors

# Deeper than any document the API takes (a workflow definition, a JSON Schema) needs.
MAX_DEPTH = 64
_NUL = "\x00"


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; `BadRequest` (invalid_json) or `ValidationFailed` saying why not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        _invalid_json(f"it is not UTF-8 text (byte {exc.start})")
    try:
        value = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except json.JSONDecodeError as exc:
        _invalid_json(f"{exc.msg} at line {exc.lineno}, column {exc.colno}")
    except ValueError as exc:  # NaN, Infinity, a number out of range, an integer of 4,300+ digits
        _invalid_json(str(exc))
    except RecursionError:
        _invalid_json(f"it is nested deeper than {MAX_DEPTH} levels")
    _check(value)
    return value


def _check(value: Any) -> None:
    # Iterative: a recursive walk would meet the recursion limit the check is about.
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, dict | list):
            if len(path) >= MAX_DEPTH:
                _invalid_json(f"it is nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key, path, key=True)
                pending.extend((child, (*path, key)) for key, child in item.items())
            else:
                pending.extend((child, (*path, index)) for index, child in enumerate(item))


def _check_text(text: str, path: tuple[str | int, ...], *, key: bool = False) -> None:
    if text.isascii():
        if _NUL in text:
            _nul(path, key=key)
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        _invalid_json("a \\u escape names a lone surrogate")
    if _NUL in text:
        _nul(path, key=key)


def _nul(path: tuple[str | int, ...], *, key: bool) -> NoReturn:
    field = ".".join(str(part) for part in ("body", *path))
    message = "a key holds the NUL character (U+0000)" if key else "holds the NUL character (U+0000)"
    raise errors.ValidationFailed(
        "Request validation failed",
        details=[{"field": field, "message": message, "type": "string_nul_character"}],
    )


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"the number {number[:32]} is out of range")
    return value


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not a JSON number")


def _invalid_json(reason: str) -> NoReturn:
    raise errors.BadRequest(f"The request body is not valid JSON: {reason}", code="invalid_json") from None

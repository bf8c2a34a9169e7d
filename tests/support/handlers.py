"""Invoke the template's functions in-process, with their sample events, as Lambda would."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from infra.local.lambdas import LocalFunctions
from infra.template import functions, load_template

ROOT = Path(__file__).resolve().parents[2]


@cache
def local_functions() -> LocalFunctions:
    return LocalFunctions(ROOT, functions(load_template(ROOT / "template.yaml")))


def sample_event(name: str) -> dict[str, Any]:
    """A fresh copy of `events/<name>.json`."""
    return copy.deepcopy(json.loads((ROOT / "events" / f"{name}.json").read_text()))


def invoke(function_id: str, event: dict[str, Any]) -> Any:
    return local_functions().invoke(function_id, event)


def http_event(function_id: str, *, token: str | None = None, **changes: Any) -> dict[str, Any]:
    """The function's sample HTTP event, with the caller's bearer token (or none)."""
    event = sample_event(function_id)
    event["headers"].pop("authorization", None)
    if token is not None:
        event["headers"]["authorization"] = f"Bearer {token}"
    event.update(changes)
    return event


def call_http(function_id: str, *, token: str | None = None, **changes: Any) -> tuple[int, Any]:
    response = invoke(function_id, http_event(function_id, token=token, **changes))
    return response["statusCode"], json.loads(response["body"])

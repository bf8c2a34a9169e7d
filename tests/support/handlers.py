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


def request(
    function_id: str,
    token: str | None,
    *,
    body: Any = None,
    path: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One request to a function of the template as API Gateway sends it: (status, body, headers).

    The sample event's route is filled with ``path``; ``token`` None sends no Authorization header.
    """
    event = http_event(function_id, token=token)
    event["body"] = None if body is None else json.dumps(body)
    if path is not None:
        event["pathParameters"] = path
        raw = event["routeKey"].split(" ", 1)[1]
        for name, value in path.items():
            raw = raw.replace("{" + name + "}", value)
        event["rawPath"] = event["requestContext"]["http"]["path"] = raw
    event["queryStringParameters"] = query
    event["rawQueryString"] = "&".join(f"{name}={value}" for name, value in (query or {}).items())
    response = invoke(function_id, event)
    return response["statusCode"], json.loads(response.get("body") or "null"), response.get("headers", {})

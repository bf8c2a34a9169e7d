"""Invoke the template's handlers directly in this process, with their sample events.

For tests of one function whose environment the test prepares itself (moto's Secrets Manager,
monkeypatched variables): the handler is imported here, under a module name of its own (every
handler file is called `app.py`), and called with a Lambda context. Tests of the service as a
whole go through the local runtime instead, where each function runs in its own environments.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import threading
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from auralink.observability import logger
from infra.local.bootstrap import Handler, LambdaContext
from infra.local.lambdas import function_arn
from infra.template import FunctionSpec, functions, load_template

ROOT = Path(__file__).resolve().parents[2]


class InProcessFunctions:
    """The functions of a template, their handlers imported on first use into this process."""

    def __init__(self, root: Path, specs: Iterable[FunctionSpec]) -> None:
        self.root = root
        self.specs = {spec.logical_id: spec for spec in specs}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def invoke(self, function_id: str, event: Any) -> Any:
        spec = self.specs[function_id]
        context = LambdaContext(
            function_name=function_id,
            invoked_function_arn=function_arn(function_id, spec.auto_publish_alias),
            memory_limit_in_mb=spec.memory_size,
            timeout_ms=spec.timeout * 1000,
        )
        try:
            return self.handler(function_id)(event, context)
        finally:
            # The service's logger is shared by every handler imported here: the keys one
            # invocation put on it (its context, correlation id, caller) must not label the next.
            logger.clear_state()

    def handler(self, function_id: str) -> Handler:
        with self._lock:
            if function_id not in self._handlers:
                self._handlers[function_id] = self._load(self.specs[function_id])
            return self._handlers[function_id]

    def _load(self, spec: FunctionSpec) -> Handler:
        path = (self.root / spec.code_uri / spec.module_path).resolve()
        module_name = f"auralink_function_{spec.logical_id}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        assert module_spec is not None and module_spec.loader is not None, path
        module = importlib.util.module_from_spec(module_spec)
        # Registered before execution so that models defined in the module can find it by name.
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        handler: Handler = getattr(module, spec.handler_name)
        return handler


@cache
def local_functions() -> InProcessFunctions:
    return InProcessFunctions(ROOT, functions(load_template(ROOT / "template.yaml")))


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
    headers: dict[str, str | None] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One request to a function of the template as API Gateway sends it: (status, body, headers).

    The sample event's route is filled with ``path``; ``token`` None sends no Authorization header.
    ``headers`` change the sample's (API Gateway lower-cases their names): a value sets one, None
    removes it.
    """
    event = http_event(function_id, token=token)
    for name, value in (headers or {}).items():
        if value is None:
            event["headers"].pop(name.lower(), None)
        else:
            event["headers"][name.lower()] = value
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


StatusAndBody = Callable[..., tuple[int, Any]]


def api_as_users(token_for: Callable[[str], str]) -> StatusAndBody:
    """call(function_id, user, body=..., path=..., query=...) -> (status, body): `request` as
    ``user`` (None: no token), for the tests that read no headers."""

    def call(
        function_id: str,
        user: str | None,
        *,
        body: Any = None,
        path: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        token = None if user is None else token_for(user)
        status, answer, _ = request(function_id, token, body=body, path=path, query=query)
        return status, answer

    return call

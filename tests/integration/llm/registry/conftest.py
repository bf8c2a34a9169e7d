"""The LLM registry's functions on the session database, called as API Gateway would."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.local.postgres import LocalDatabase, attach_postgres
from tests.support.handlers import invoke, sample_event

Api = Callable[..., tuple[int, Any]]


def call_api(
    function_id: str, token: str | None, *, body: Any = None, query: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One request to a function of the template: (status, parsed body)."""
    event = sample_event(function_id)
    event["headers"].pop("authorization", None)
    if token is not None:
        event["headers"]["authorization"] = f"Bearer {token}"
    event["body"] = None if body is None else json.dumps(body)
    event["queryStringParameters"] = query
    event["rawQueryString"] = "&".join(f"{name}={value}" for name, value in (query or {}).items())
    response = invoke(function_id, event)
    return response["statusCode"], json.loads(response.get("body") or "null")


@pytest.fixture
def api(service: pytest.MonkeyPatch, token_for: Callable[..., str]) -> Api:
    """api("LlmModelsFunction", "alice", query={...}); user None sends no token."""

    def call(function_id: str, user: str | None, **kwargs: Any) -> tuple[int, Any]:
        return call_api(function_id, None if user is None else token_for(user), **kwargs)

    return call


@pytest.fixture
def fresh(admin_dsn: str) -> Iterator[LocalDatabase]:
    """An empty database of its own on the session's server, dropped afterwards."""
    db = attach_postgres(admin_dsn, database=f"auralink_llm_{secrets.token_hex(4)}", throwaway=True)
    yield db
    db.stop()

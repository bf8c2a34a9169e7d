"""The LLM registry's functions on the session database, called as API Gateway would."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.local.postgres import LocalDatabase, attach_postgres
from tests.support.handlers import request

Api = Callable[..., tuple[int, Any]]


def call_api(
    function_id: str, token: str | None, *, body: Any = None, query: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One request to a function of the template: (status, parsed body)."""
    status, answer, _ = request(function_id, token, body=body, query=query)
    return status, answer


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

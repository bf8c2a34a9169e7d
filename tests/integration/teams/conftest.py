"""The team functions on the session database, called as API Gateway would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.handlers import request

Api = Callable[..., tuple[int, Any]]


@pytest.fixture
def api(credentials_key: pytest.MonkeyPatch, token_for: Callable[..., str]) -> Api:
    """api("GetTeamFunction", "alice", path={"team_id": ...}, body=..., query=...)."""

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

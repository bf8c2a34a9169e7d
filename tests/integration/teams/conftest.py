"""The team functions on the session database, called as API Gateway would."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.handlers import StatusAndBody, api_as_users

Api = StatusAndBody


@pytest.fixture
def api(credentials_key: pytest.MonkeyPatch, token_for: Callable[..., str]) -> Api:
    """api("GetTeamFunction", "alice", path={"team_id": ...}, body=..., query=...)."""
    return api_as_users(token_for)

"""The chat function against the OpenAI- and Anthropic-compatible fakes on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.openai_server import LlmServer, openai_server
from tests.support.handlers import request

KEY = "sk-chat-loopback-0a1b2c3d4e5f60718293"


@pytest.fixture(scope="module")
def openai_compatible() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_scripts(openai_compatible: LlmServer) -> Iterator[None]:
    openai_compatible.script.reset()
    yield


@pytest.fixture
def llm(credentials_key: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield credentials_key


Api = Callable[..., tuple[int, Any]]


@pytest.fixture
def api(llm: pytest.MonkeyPatch, token_for: Callable[..., str]) -> Api:
    def call(
        function_id: str, user: str, *, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        status, answer, _ = request(function_id, token_for(user), body=body, query=query)
        return status, answer

    return call

"""The provider fakes on loopback, one of each per test session, and a view of each as a target.

`target` is parametrized over the three HTTP providers: the fake, an adapter pointed at it, the
access that carries the fake's key, and how that provider's wire format shows tool results.
Scripts and records are cleared around every test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from auralink.clock import Clock
from auralink.llm.providers.anthropic import AnthropicProvider
from auralink.llm.providers.base import Provider, ProviderAccess
from auralink.llm.providers.gemini import GeminiProvider
from auralink.llm.providers.openai import OpenAIProvider
from tests.fakes.anthropic_server import anthropic_server
from tests.fakes.gemini_server import gemini_server
from tests.fakes.openai_server import LlmServer, openai_server
from tests.support.clock import FakeClock

KEY = "sk-loopback-llm-5f1e2d3c4b5a69788796a5b4"


@pytest.fixture(scope="session")
def openai_fake() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="session")
def anthropic_fake() -> Iterator[LlmServer]:
    with anthropic_server(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="session")
def gemini_fake() -> Iterator[LlmServer]:
    with gemini_server(api_key=KEY) as server:
        yield server


@dataclass
class Target:
    label: str
    server: LlmServer
    base_url: str
    make: Callable[[Clock], Provider]
    tool_results: Callable[[dict[str, Any]], list[str]]  # the tool outputs a request body carries
    tool_names_declared: Callable[[dict[str, Any]], list[str]]

    def provider(self, clock: Clock | None = None) -> Provider:
        return self.make(clock or FakeClock())

    def access(self, key: str = KEY) -> ProviderAccess:
        return ProviderAccess(api_key=SecretStr(key), base_url=self.base_url)


def _openai_results(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


def _anthropic_results(body: dict[str, Any]) -> list[str]:
    blocks = [b for m in body["messages"] if m["role"] == "user" for b in m["content"]]
    return [b["content"] for b in blocks if b["type"] == "tool_result"]


def _gemini_results(body: dict[str, Any]) -> list[str]:
    parts = [p for c in body["contents"] for p in c["parts"]]
    return [p["functionResponse"]["response"]["result"] for p in parts if "functionResponse" in p]


@pytest.fixture(params=["openai", "anthropic", "gemini"])
def target(
    request: pytest.FixtureRequest, openai_fake: LlmServer, anthropic_fake: LlmServer, gemini_fake: LlmServer
) -> Iterator[Target]:
    targets = {
        "openai": Target(
            "openai",
            openai_fake,
            openai_fake.base_url + "/v1",
            lambda clock: OpenAIProvider(allow_loopback=True, clock=clock),
            _openai_results,
            lambda body: [t["function"]["name"] for t in body.get("tools", [])],
        ),
        "anthropic": Target(
            "anthropic",
            anthropic_fake,
            anthropic_fake.base_url,
            lambda clock: AnthropicProvider(allow_loopback=True, clock=clock),
            _anthropic_results,
            lambda body: [t["name"] for t in body.get("tools", [])],
        ),
        "gemini": Target(
            "gemini",
            gemini_fake,
            gemini_fake.base_url,
            lambda clock: GeminiProvider(allow_loopback=True, clock=clock),
            _gemini_results,
            lambda body: [d["name"] for t in body.get("tools", []) for d in t["functionDeclarations"]],
        ),
    }
    chosen = targets[request.param]
    chosen.server.script.reset()
    yield chosen
    chosen.server.script.reset()

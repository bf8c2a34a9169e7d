"""Where the adapters connect: users' base URLs pass the SSRF guard; OpenAI-compatible servers
without keys; calls made from inside a running event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx2
import pytest

from auralink.llm.chat_types import ChatMessage, ProviderRequest
from auralink.llm.providers.anthropic import AnthropicProvider
from auralink.llm.providers.base import ProviderAccess
from auralink.llm.providers.catalog import API_STYLES, adapter_for
from auralink.llm.providers.openai import OpenAIProvider
from auralink.ssrf import EndpointNotAllowed
from tests.fakes.openai_server import LlmServer, Text, openai_server
from tests.support import environment

REQUEST = ProviderRequest(model="llama3.2", messages=[ChatMessage(role="user", content="hi")])


@pytest.fixture(scope="module")
def keyless() -> Iterator[LlmServer]:
    """An OpenAI-compatible server that wants no key, as Ollama or a local vLLM."""
    with openai_server() as server:
        yield server


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("https://10.0.0.7/v1", "address"),
        ("https://169.254.169.254/latest", "address"),
        ("http://api.example.com/v1", "scheme"),
        ("ftp://127.0.0.1/v1", "scheme"),
    ],
)
def test_a_base_url_the_guard_refuses_is_never_called(base_url: str, reason: str) -> None:
    with pytest.raises(EndpointNotAllowed) as caught:
        OpenAIProvider(allow_loopback=True).chat(
            REQUEST, access=ProviderAccess(base_url=base_url), deadline_s=2
        )

    assert caught.value.reason == reason


def test_loopback_is_refused_when_loopback_is_not_allowed(keyless: LlmServer) -> None:
    with pytest.raises(EndpointNotAllowed):
        OpenAIProvider(allow_loopback=False).chat(
            REQUEST, access=ProviderAccess(base_url=keyless.base_url + "/v1"), deadline_s=2
        )

    assert keyless.script.received == []


def test_a_keyless_compatible_server_gets_no_authorization_header(keyless: LlmServer) -> None:
    keyless.script.reset()
    keyless.script.then(Text("local model here"))

    reply = OpenAIProvider(allow_loopback=True).chat(
        REQUEST, access=ProviderAccess(base_url=keyless.base_url + "/v1/"), deadline_s=5
    )

    assert reply.content == "local model here"
    [received] = keyless.script.received
    assert received.path == "/v1/chat/completions"
    assert "authorization" not in received.headers
    assert received.body["model"] == "llama3.2"


def test_by_default_loopback_follows_the_setting_not_the_stage(
    keyless: LlmServer, service_environment: pytest.MonkeyPatch
) -> None:
    access = ProviderAccess(base_url=keyless.base_url + "/v1")

    assert OpenAIProvider().chat(REQUEST, access=access, deadline_s=5).content == "echo: hi"

    # ENVIRONMENT=development without ALLOW_LOOPBACK_ENDPOINTS: refused before anything is sent
    environment.apply(service_environment)
    service_environment.delenv("ALLOW_LOOPBACK_ENDPOINTS")
    environment.forget_caches()
    before = len(keyless.script.received)
    with pytest.raises(EndpointNotAllowed):
        OpenAIProvider().chat(REQUEST, access=access, deadline_s=5)
    assert len(keyless.script.received) == before


def test_a_call_from_inside_a_running_event_loop_still_works(keyless: LlmServer) -> None:
    provider = OpenAIProvider(allow_loopback=True)
    access = ProviderAccess(base_url=keyless.base_url + "/v1")

    async def from_async_code() -> str | None:
        return provider.chat(REQUEST, access=access, deadline_s=5).content

    assert asyncio.run(from_async_code()) == "echo: hi"


def test_the_fake_refuses_streaming_with_a_clear_message(keyless: LlmServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}

    answer = httpx2.post(keyless.base_url + "/v1/chat/completions", json=body)

    assert answer.status_code == 400
    assert "stream=true is not supported" in answer.json()["error"]["message"]


def test_the_fake_lists_models_like_openai(keyless: LlmServer) -> None:
    answer = httpx2.get(keyless.base_url + "/v1/models").json()

    assert answer["object"] == "list"
    assert {"id": "gpt-5.4-mini", "object": "model", "created": 0, "owned_by": "loopback"} in answer["data"]


def test_each_api_style_of_the_registry_has_an_adapter() -> None:
    assert isinstance(adapter_for("anthropic"), AnthropicProvider)
    assert adapter_for("openai") is adapter_for("openai")
    assert all(hasattr(adapter_for(style), "chat") for style in API_STYLES)

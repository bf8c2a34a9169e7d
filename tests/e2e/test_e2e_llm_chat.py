"""A user brings a key for an OpenAI-compatible server, chats, and sees the call's tokens and cost."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from infra.local.token import mint_dev_token
from tests.fakes.openai_server import LlmServer, Text, openai_server

KEY = "sk-e2e-compatible-9f8e7d6c5b4a"


@pytest.fixture(scope="module")
def compatible_server() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


def test_bring_your_own_key_chat_and_metrics(
    api: httpx.Client, make_user_id, compatible_server: LlmServer
) -> None:
    headers = {"Authorization": f"Bearer {mint_dev_token(make_user_id('alice'))}"}
    compatible_server.script.then(
        Text("Hello from a compatible server", input_tokens=2000, output_tokens=500)
    )

    stored = api.put(
        "/api/v1/llm/preferences",
        headers=headers,
        json={
            "default_model": "openai/gpt-5.4-mini",
            "providers": {"openai": {"api_key": KEY, "base_url": compatible_server.base_url + "/v1"}},
        },
    )
    answer = api.post(
        "/api/v1/llm/chat", headers=headers, json={"messages": [{"role": "user", "content": "Hi"}]}
    )
    metrics = api.get("/api/v1/llm/metrics", headers=headers)
    models = api.get("/api/v1/llm/models", headers=headers, params={"provider": "openai"})

    assert stored.status_code == 200, stored.text
    assert KEY not in stored.text
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"] == "Hello from a compatible server"
    price = next(m for m in models.json()["models"] if m["id"] == "openai/gpt-5.4-mini")
    expected = (
        Decimal(2000) * Decimal(str(price["input_price_per_mtok"]))
        + Decimal(500) * Decimal(str(price["output_price_per_mtok"]))
    ) / 10**6
    (row,) = metrics.json()["models"]
    assert (row["model"], row["calls"], row["input_tokens"], row["output_tokens"]) == (
        "openai/gpt-5.4-mini",
        1,
        2000,
        500,
    )
    assert Decimal(str(row["cost_usd"])) == expected == Decimal(str(answer.json()["cost_usd"]))

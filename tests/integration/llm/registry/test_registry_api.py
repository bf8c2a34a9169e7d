"""GET /api/v1/llm/providers and /api/v1/llm/models against the seeded registry."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from auralink.llm.models_file import load_models
from tests.support.handlers import invoke, sample_event

MODELS = load_models()
TODAY = datetime.now(UTC).date()
# What can be called today: neither flagged retired nor past its shutdown date.
OFFERED = [m for m in MODELS if not m.retired and (m.retires_on is None or m.retires_on > TODAY)]
RETIRED = [m for m in MODELS if m not in OFFERED]


def test_the_four_providers_with_their_model_counts(api):
    status, body = api("LlmProvidersFunction", "reader")

    assert status == 200, body
    providers = {provider["name"]: provider for provider in body["providers"]}
    assert set(providers) == {"openai", "anthropic", "google", "meta"}
    assert providers["openai"] == {
        "name": "openai",
        "display_name": "OpenAI",
        "api_style": "openai",
        "base_url": "https://api.openai.com/v1",
        "enabled": True,
        "model_count": Counter(entry.provider for entry in OFFERED)["openai"],
    }
    assert (providers["meta"]["api_style"], providers["meta"]["base_url"]) == ("bedrock", None)
    assert providers["anthropic"]["api_style"] == "anthropic"
    assert providers["google"]["api_style"] == "gemini"
    assert sum(provider["model_count"] for provider in body["providers"]) == len(OFFERED) >= 20


def test_every_model_of_the_data_files_is_listed_with_its_exact_prices_and_no_retired_one(api):
    status, body = api("LlmModelsFunction", "reader")

    assert status == 200, body
    listed = {model["id"]: model for model in body["models"]}
    assert len(listed) == len(OFFERED) >= 20
    assert RETIRED and not {model.id for model in RETIRED} & set(listed)
    for entry in OFFERED:
        model = listed[f"{entry.provider}/{entry.name}"]
        assert model == {
            "id": f"{entry.provider}/{entry.name}",
            "provider": entry.provider,
            "name": entry.name,
            "display_name": entry.display_name,
            "context_window": entry.context_window,
            "input_price_per_mtok": model["input_price_per_mtok"],
            "output_price_per_mtok": model["output_price_per_mtok"],
            "supports_tools": entry.supports_tools,
            "capabilities": list(entry.capabilities),
            "retires_on": entry.retires_on and entry.retires_on.isoformat(),
            "successor": entry.successor,
        }
        # JSON numbers, and the very decimals of the file.
        assert isinstance(model["input_price_per_mtok"], int | float)
        assert Decimal(str(model["input_price_per_mtok"])) == entry.input_price_per_mtok
        assert Decimal(str(model["output_price_per_mtok"])) == entry.output_price_per_mtok


def test_prices_leave_as_json_numbers_not_strings(service, token_for):
    event = sample_event("LlmModelsFunction")
    event["headers"]["authorization"] = f"Bearer {token_for('reader')}"
    event["queryStringParameters"] = {"provider": "openai"}
    event["rawQueryString"] = "provider=openai"

    raw = invoke("LlmModelsFunction", event)["body"]

    assert '"id":"openai/gpt-5.4","provider":"openai"' in raw
    assert '"input_price_per_mtok":2.5,"output_price_per_mtok":15.0' in raw


def test_published_prices_of_well_known_models(api):
    _, body = api("LlmModelsFunction", "reader")
    prices = {m["id"]: (m["input_price_per_mtok"], m["output_price_per_mtok"]) for m in body["models"]}

    assert prices["openai/gpt-5.4"] == (2.5, 15)
    assert prices["openai/gpt-5.4-mini"] == (0.75, 4.5)
    assert prices["anthropic/claude-opus-4-5-20251101"] == (5, 25)
    assert prices["anthropic/claude-sonnet-4-6"] == (3, 15)
    assert prices["google/gemini-2.5-flash-lite"] == (0.1, 0.4)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"provider": "anthropic"}, lambda e: e.provider == "anthropic"),
        ({"capability": "reasoning"}, lambda e: "reasoning" in e.capabilities),
        (
            {"provider": "google", "capability": "vision"},
            lambda e: e.provider == "google" and "vision" in e.capabilities,
        ),
        ({"provider": "meta", "capability": "tools"}, lambda e: e.provider == "meta" and e.supports_tools),
    ],
)
def test_filters(api, query, expected):
    status, body = api("LlmModelsFunction", "reader", query=query)

    assert status == 200, body
    ids = [model["id"] for model in body["models"]]
    assert ids == sorted(f"{e.provider}/{e.name}" for e in OFFERED if expected(e))
    assert ids


def test_an_unknown_provider_has_no_models_and_a_malformed_filter_is_422(api):
    assert api("LlmModelsFunction", "reader", query={"provider": "mistral"}) == (200, {"models": []})

    status, body = api("LlmModelsFunction", "reader", query={"capability": "telepathy"})

    assert status == 422
    assert [item["field"] for item in body["error"]["details"]] == ["query.capability"]


def test_without_a_token_the_registry_answers_401(api):
    status, body = api("LlmProvidersFunction", None)

    assert (status, body["error"]["code"]) == (401, "token_missing")


def test_a_disabled_model_is_not_listed(api, owner_conn):
    name = f"disabled-{uuid4().hex[:8]}"
    owner_conn.execute(
        "INSERT INTO llm_models (provider_id, name, display_name, context_window, input_price_per_mtok,"
        " output_price_per_mtok, enabled) SELECT id, %s, 'Off', 1000, 1, 1, false FROM llm_providers"
        " WHERE name = 'openai'",
        (name,),
    )
    try:
        _, body = api("LlmModelsFunction", "reader", query={"provider": "openai"})
        _, providers = api("LlmProvidersFunction", "reader")
    finally:
        owner_conn.execute("DELETE FROM llm_models WHERE name = %s", (name,))

    assert f"openai/{name}" not in json.dumps(body)
    openai = next(p for p in providers["providers"] if p["name"] == "openai")
    assert openai["model_count"] == Counter(entry.provider for entry in OFFERED)["openai"]

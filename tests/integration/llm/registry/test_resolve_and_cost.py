"""Resolving model ids for the chat gateway, and what calls cost at the registry's prices."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from auralink.errors import ValidationFailed
from auralink.llm.registry import cost_usd, resolve_model


@pytest.fixture
def disabled_model(service, owner_conn):
    name = f"retired-{uuid4().hex[:8]}"
    owner_conn.execute(
        "INSERT INTO llm_models (provider_id, name, display_name, context_window, input_price_per_mtok,"
        " output_price_per_mtok, enabled) SELECT id, %s, 'Retired', 1000, 1, 1, false FROM llm_providers"
        " WHERE name = 'anthropic'",
        (name,),
    )
    yield f"anthropic/{name}"
    owner_conn.execute("DELETE FROM llm_models WHERE name = %s", (name,))


@pytest.fixture
def bedrock_model(service, owner_conn):
    # Of its own, so that the test outlives any Llama the dataset dates.
    name = f"us.meta.llama-{uuid4().hex[:8]}-instruct-v1:0"
    owner_conn.execute(
        "INSERT INTO llm_models (provider_id, name, display_name, context_window, input_price_per_mtok,"
        " output_price_per_mtok, supports_tools, capabilities) SELECT id, %s, 'Llama', 128000, 0.22,"
        " 0.22, true, '{chat,tools}' FROM llm_providers WHERE name = 'meta'",
        (name,),
    )
    yield name
    owner_conn.execute("DELETE FROM llm_models WHERE name = %s", (name,))


def test_a_model_resolves_with_what_the_gateway_needs(bedrock_model):
    model = resolve_model(f"meta/{bedrock_model}")

    assert model.id == f"meta/{bedrock_model}"
    assert (model.provider, model.name, model.api_style, model.provider_base_url) == (
        "meta",
        bedrock_model,
        "bedrock",
        None,
    )
    assert (model.input_price_per_mtok, model.output_price_per_mtok) == (Decimal("0.22"), Decimal("0.22"))
    assert model.enabled and model.supports_tools and "tools" in model.capabilities
    assert (model.retires_on, model.successor) == (None, None)


def test_openai_models_carry_the_providers_endpoint(service):
    model = resolve_model("openai/gpt-5.4-mini")

    assert (model.api_style, model.provider_base_url) == ("openai", "https://api.openai.com/v1")


@pytest.mark.parametrize("model_id", ["openai/gpt-9", "nobody/gpt-4o", "gpt-4o", "openai/", "/gpt-4o"])
def test_unknown_models_are_422_model_not_found(service, model_id):
    with pytest.raises(ValidationFailed) as caught:
        resolve_model(model_id)

    assert caught.value.code == "model_not_found"


def test_a_disabled_model_is_422_model_disabled(disabled_model):
    with pytest.raises(ValidationFailed) as caught:
        resolve_model(disabled_model)

    assert caught.value.code == "model_disabled"


@pytest.mark.parametrize(
    ("model_id", "input_tokens", "output_tokens", "expected"),
    [
        ("openai/gpt-5.4", 1_000_000, 1_000_000, Decimal("17.5")),
        ("openai/gpt-5.4", 1234, 567, Decimal("0.01159")),
        ("openai/gpt-5.4-mini", 1, 1, Decimal("0.00000525")),
        ("anthropic/claude-opus-4-5-20251101", 10_000, 2_000, Decimal("0.1")),
        ("google/gemini-2.5-flash-lite", 1, 0, Decimal("0.0000001")),
        ("google/gemini-3.5-flash", 0, 0, Decimal("0")),
        ("openai/gpt-6-luna", 333_333, 333_333, Decimal("0.1999998")),
    ],
)
def test_cost_is_exact_at_the_registry_prices(service, model_id, input_tokens, output_tokens, expected):
    cost = cost_usd(resolve_model(model_id), input_tokens, output_tokens)

    assert isinstance(cost, Decimal)
    assert cost == expected

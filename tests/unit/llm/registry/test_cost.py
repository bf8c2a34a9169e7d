"""Cost arithmetic: exact decimals per million tokens, never floats."""

from __future__ import annotations

from decimal import Decimal

import pytest

from auralink.errors import ValidationFailed
from auralink.llm.registry import ModelEntry, cost_usd, split_model_id


def _model(input_price: str, output_price: str) -> ModelEntry:
    return ModelEntry(
        provider="openai",
        name="m",
        display_name="M",
        api_style="openai",
        provider_base_url=None,
        context_window=1000,
        input_price_per_mtok=Decimal(input_price),
        output_price_per_mtok=Decimal(output_price),
        supports_tools=False,
        capabilities=("chat",),
        enabled=True,
    )


@pytest.mark.parametrize(
    ("prices", "tokens", "expected"),
    [
        (("2.5000", "10.0000"), (1_000_000, 1_000_000), "12.5"),
        (("0.1500", "0.6000"), (1, 1), "0.00000075"),
        (("0.0750", "0.3000"), (3, 7), "0.000002325"),
        # 0.1 + 0.2 is where binary floats go wrong.
        (("0.1000", "0.2000"), (1_000_000, 1_000_000), "0.3"),
        (("15.0000", "75.0000"), (123_456_789, 98_765_432), "9259.259235"),
        (("0", "0"), (5, 5), "0"),
    ],
)
def test_cost_is_exact(prices, tokens, expected):
    cost = cost_usd(_model(*prices), *tokens)

    assert isinstance(cost, Decimal)
    assert cost == Decimal(expected)


def test_negative_token_counts_are_refused():
    with pytest.raises(ValueError, match="negative"):
        cost_usd(_model("1", "1"), -1, 0)


def test_model_ids_split_at_the_first_slash():
    assert split_model_id("meta/us.meta.llama3-3-70b-instruct-v1:0") == (
        "meta",
        "us.meta.llama3-3-70b-instruct-v1:0",
    )
    assert split_model_id("openai/org/model") == ("openai", "org/model")
    with pytest.raises(ValidationFailed):
        split_model_id("gpt-4o")


def test_a_model_entry_names_itself_provider_slash_model():
    assert _model("1", "1").id == "openai/m"

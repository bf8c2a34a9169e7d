"""The data file of models: what ships is valid and complete; a bad entry is named with its field."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from auralink.llm.registry import (
    ModelsFileError,
    default_models_file,
    load_models_file,
    parse_models_file,
)

ENTRY = """
  - provider: openai
    name: gpt-4o
    display_name: GPT-4o
    context_window: 128000
    input_price_per_mtok: 2.50
    output_price_per_mtok: 10.00
    supports_tools: true
    capabilities: [chat, tools]
"""


def _file(*entries: str) -> str:
    return "version: 1\nmodels:" + "".join(entries)


def _problem(text: str) -> str:
    with pytest.raises(ModelsFileError) as caught:
        parse_models_file(text)
    assert caught.value.code == "llm_models_invalid"
    return caught.value.message


def test_the_shipped_file_is_valid_and_lists_twenty_models_or_more():
    entries = load_models_file(default_models_file())

    assert len(entries) >= 20
    per_provider = Counter(entry.provider for entry in entries)
    assert set(per_provider) == {"openai", "anthropic", "google", "meta"}
    assert min(per_provider.values()) >= 4
    ids = {f"{entry.provider}/{entry.name}" for entry in entries}
    assert {
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "openai/gpt-4.1",
        "openai/gpt-4.1-mini",
        "openai/o3-mini",
        "anthropic/claude-sonnet-4-20250514",
        "anthropic/claude-opus-4-20250514",
        "anthropic/claude-3-5-haiku-20241022",
        "google/gemini-2.0-flash",
        "google/gemini-1.5-pro",
        "google/gemini-2.5-pro",
        "meta/meta.llama3-1-70b-instruct-v1:0",
        "meta/meta.llama3-1-8b-instruct-v1:0",
        "meta/us.meta.llama3-3-70b-instruct-v1:0",
    } <= ids
    assert all(entry.input_price_per_mtok > 0 and entry.output_price_per_mtok > 0 for entry in entries)
    assert all("chat" in entry.capabilities for entry in entries)


def test_prices_are_exact_decimals_not_floats():
    (entry,) = parse_models_file(_file(ENTRY.replace("2.50", "0.075")))

    assert entry.input_price_per_mtok == Decimal("0.075")
    assert isinstance(entry.output_price_per_mtok, Decimal)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("context_window: 128000", "context_window: 0"), "models[1].context_window (openai/gpt-4o):"),
        (("input_price_per_mtok: 2.50", "input_price_per_mtok: -1"), "models[1].input_price_per_mtok"),
        (
            ("output_price_per_mtok: 10.00", "output_price_per_mtok: 0.00001"),
            "models[1].output_price_per_mtok",
        ),
        (("output_price_per_mtok: 10.00", "output_price_per_mtok: ten"), "models[1].output_price_per_mtok"),
        (("[chat, tools]", "[chat, tools, telepathy]"), "models[1].capabilities[2]"),
        (("supports_tools: true", "supports_tools: false"), "supports_tools must be true exactly when"),
        (("    display_name: GPT-4o\n", ""), "models[1].display_name (openai/gpt-4o): Field required"),
        (("name: gpt-4o", "name: gpt 4o"), "models[1].name"),
        (("provider: openai", "provider: Open AI"), "models[1].provider"),
        (("    supports_tools: true", "    supports_tools: true\n    price: 1"), "models[1].price"),
    ],
)
def test_a_bad_entry_is_named_by_index_and_field(change, problem):
    message = _problem(_file(ENTRY.replace("name: gpt-4o", "name: gpt-4.1"), ENTRY.replace(*change)))

    assert message.startswith("llm-models.yaml: ")
    assert problem in message


def test_a_repeated_model_names_both_entries():
    assert "models[1] (openai/gpt-4o) repeats models[0]" in _problem(_file(ENTRY, ENTRY))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("version: 1\nmodels: [\n", "not valid YAML at line"),
        ("version: 2\nmodels:" + ENTRY, "version: Input should be 1"),
        ("version: 1\nmodels: []\n", "models: List should have at least 1 item"),
        ("- just a list\n", "Input should be a valid dictionary"),
    ],
)
def test_a_malformed_document_says_what_is_wrong(text, problem):
    assert problem in _problem(text)

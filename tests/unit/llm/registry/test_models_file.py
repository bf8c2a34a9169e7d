"""The data files of models: what ships is valid and complete (every offered model is priced); a bad
entry is named with its file, index and field; the two files must agree."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from auralink.llm.models_file import (
    ModelsFileError,
    default_prices_file,
    join,
    load_models,
    parse_models_file,
    parse_prices_file,
)

ENTRY = """
  - provider: openai
    name: gpt-5.4
    display_name: GPT-5.4
    capabilities: [chat, tools]
"""
DATASET = """version: 1
dataset:
  package: litellm==1.110.2
  member: litellm/model_prices_and_context_window_backup.json
  sha256: 8943af58bf9f979c6a4bef815687117ffa341e462a41faed9be17b5c33d3dcc2
models:
"""
NUMBERS = """  openai/{name}:
    source: {name}
    context_window: 128000
    input_price_per_mtok: '2.5'
    output_price_per_mtok: '15'
"""


def _file(*entries: str) -> str:
    return "version: 1\nmodels:" + "".join(entries)


def _entry(name: str, extra: str = "") -> str:
    return ENTRY.replace("gpt-5.4", name) + extra


def _prices(*names: str, extra: dict[str, str] | None = None) -> str:
    extra = extra or {}
    return DATASET + "".join(NUMBERS.format(name=name) + extra.get(name, "") for name in names)


def _problem(text: str) -> str:
    with pytest.raises(ModelsFileError) as caught:
        parse_models_file(text)
    assert caught.value.code == "llm_models_invalid"
    return caught.value.message


def _join_problem(models: str, prices: str) -> str:
    with pytest.raises(ModelsFileError) as caught:
        join(parse_models_file(models), parse_prices_file(prices))
    return caught.value.message


# ---------------------------------------------------------------- what ships


def test_every_offered_model_has_a_price_and_a_context_window():
    models = load_models()

    offered = [model for model in models if not model.retired]
    assert len(offered) >= 40
    for model in offered:
        assert model.context_window is not None and model.context_window > 0, model.id
        assert model.input_price_per_mtok is not None and model.input_price_per_mtok >= 0, model.id
        assert model.output_price_per_mtok is not None and model.output_price_per_mtok > 0, model.id
    assert all("chat" in model.capabilities for model in models)


def test_the_current_families_of_every_provider_are_offered():
    ids = {model.id for model in load_models() if not model.retired and model.retires_on is None}

    assert Counter(model_id.split("/")[0] for model_id in ids).keys() >= {"openai", "anthropic", "google"}
    assert {
        "openai/gpt-5.5",
        "openai/gpt-5.4",
        "openai/gpt-5.4-mini",
        "anthropic/claude-opus-4-5-20251101",
        "anthropic/claude-haiku-4-5-20251001",
        "anthropic/claude-sonnet-4-6",
        "google/gemini-2.5-flash-lite",
        "google/gemini-3.1-pro-preview",
        "google/gemini-3.5-flash",
    } <= ids
    llama4 = {"meta/us.meta.llama4-maverick-17b-instruct-v1:0", "meta/us.meta.llama4-scout-17b-instruct-v1:0"}
    assert llama4 <= {model.id for model in load_models() if not model.retired}


def test_models_the_providers_withdrew_are_retired_with_a_successor():
    models = {model.id: model for model in load_models()}

    for withdrawn in (
        "anthropic/claude-3-haiku-20240307",
        "anthropic/claude-3-5-haiku-20241022",
        "anthropic/claude-3-7-sonnet-20250219",
        "google/gemini-1.5-pro",
        "google/gemini-1.5-flash",
    ):
        assert models[withdrawn].retired and models[withdrawn].successor in models, withdrawn
    # Withdrawn on a date that the dataset gives: retired by the date, not by a flag.
    assert str(models["anthropic/claude-sonnet-4-5-20250929"].retires_on) == "2026-11-30"
    assert str(models["google/gemini-2.5-pro"].retires_on) == "2026-12-01"
    assert models["meta/us.meta.llama3-2-90b-instruct-v1:0"].successor == (
        "meta/us.meta.llama4-maverick-17b-instruct-v1:0"
    )


def test_the_shipped_prices_come_from_the_pinned_dataset():
    prices = parse_prices_file(default_prices_file().read_text())

    assert prices.dataset.package.startswith("litellm==")
    assert len(prices.dataset.sha256) == 64
    numbers = prices.models["openai/gpt-5.4-mini"]
    assert (numbers.source, numbers.context_window) == ("gpt-5.4-mini", 272000)
    assert (numbers.input_price_per_mtok, numbers.output_price_per_mtok) == (Decimal("0.75"), Decimal("4.5"))
    assert prices.models["google/gemini-3.5-flash"].source == "gemini/gemini-3.5-flash"


# ---------------------------------------------------------------- the curated file


def test_a_bad_entry_is_named_by_index_and_field():
    for change, problem in [
        (("[chat, tools]", "[chat, tools, telepathy]"), "models[1].capabilities[2]"),
        (("    display_name: GPT-5.4\n", ""), "models[1].display_name (openai/gpt-5.4): Field required"),
        (("name: gpt-5.4", "name: gpt 5.4"), "models[1].name"),
        (("provider: openai", "provider: Open AI"), "models[1].provider"),
        (
            ("[chat, tools]\n", "[chat, tools]\n    input_price_per_mtok: 1\n"),
            "models[1].input_price_per_mtok",
        ),
        (("[chat, tools]\n", "[chat, tools]\n    successor: gpt-5.5\n"), "models[1].successor"),
    ]:
        message = _problem(_file(_entry("gpt-4.1"), ENTRY.replace(*change)))

        assert message.startswith("llm-models.yaml: "), change
        assert problem in message, (change, message)


def test_a_repeated_model_names_both_entries():
    assert "models[1] (openai/gpt-5.4) repeats models[0]" in _problem(_file(ENTRY, ENTRY))


def test_a_retired_model_must_name_its_successor():
    message = _problem(_file(ENTRY, _entry("gpt-4o", "    retired: true\n")))

    assert (
        message == "llm-models.yaml: models[1].successor (openai/gpt-4o): a retired model names its successor"
    )


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


# ---------------------------------------------------------------- the derived file and the join


def test_prices_are_exact_decimals_and_dates_are_dates():
    prices = parse_prices_file(_prices("gpt-5.4", extra={"gpt-5.4": "    retires_on: '2027-01-14'\n"}))

    numbers = prices.models["openai/gpt-5.4"]
    assert numbers.input_price_per_mtok == Decimal("2.5") and isinstance(
        numbers.input_price_per_mtok, Decimal
    )
    assert numbers.retires_on is not None and numbers.retires_on.isoformat() == "2027-01-14"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("'2.5'", "'-1'"), "models.openai/gpt-5.4.input_price_per_mtok"),
        (("'15'", "'0.00001'"), "models.openai/gpt-5.4.output_price_per_mtok"),
        (("128000", "0"), "models.openai/gpt-5.4.context_window"),
        (("sha256: 8943", "sha256: zz43"), "dataset.sha256"),
        (("    source: gpt-5.4\n", ""), "models.openai/gpt-5.4.source: Field required"),
    ],
)
def test_a_bad_derived_entry_is_named(change, problem):
    with pytest.raises(ModelsFileError) as caught:
        parse_prices_file(_prices("gpt-5.4").replace(*change))

    assert caught.value.message.startswith("llm-model-prices.yaml: ")
    assert problem in caught.value.message


def test_the_join_gives_each_entry_its_numbers_and_the_curated_successor_wins():
    models = join(
        parse_models_file(
            _file(ENTRY, _entry("gpt-5.5"), _entry("gpt-4o", "    successor: openai/gpt-5.5\n"))
        ),
        parse_prices_file(
            _prices(
                "gpt-5.4",
                "gpt-5.5",
                "gpt-4o",
                extra={"gpt-4o": "    retires_on: '2027-01-14'\n    successor: openai/gpt-5.4\n"},
            )
        ),
    )

    by_id = {model.id: model for model in models}
    assert (by_id["openai/gpt-5.4"].context_window, by_id["openai/gpt-5.4"].supports_tools) == (128000, True)
    assert by_id["openai/gpt-4o"].successor == "openai/gpt-5.5"
    assert by_id["openai/gpt-4o"].retires_on is not None and not by_id["openai/gpt-4o"].retired


def test_a_retired_model_the_dataset_dropped_comes_without_numbers():
    (current, gone) = join(
        parse_models_file(
            _file(ENTRY, _entry("gpt-3", "    retired: true\n    successor: openai/gpt-5.4\n"))
        ),
        parse_prices_file(_prices("gpt-5.4")),
    )

    assert current.context_window == 128000
    assert (gone.retired, gone.context_window, gone.input_price_per_mtok) == (True, None, None)


def test_an_offered_model_without_numbers_asks_for_make_lock():
    message = _join_problem(_file(ENTRY, _entry("gpt-5.5")), _prices("gpt-5.4"))

    assert message == (
        "llm-model-prices.yaml: no price or context window for openai/gpt-5.5 (llm-models.yaml"
        " models[1]): run `make lock` (python -m infra.model_catalog)"
    )


def test_numbers_of_a_model_no_longer_offered_ask_for_make_lock():
    message = _join_problem(_file(ENTRY), _prices("gpt-5.4", "gpt-4o"))

    assert message.startswith("llm-model-prices.yaml: models.openai/gpt-4o is not offered in llm-models.yaml")


@pytest.mark.parametrize(
    ("successor", "extra", "problem"),
    [
        ("openai/gpt-9", "", "openai/gpt-9 is not offered"),
        ("openai/gpt-4o", "", "openai/gpt-4o cannot succeed it: it is retired or the model itself"),
        ("openai/gpt-3", "", "openai/gpt-3 cannot succeed it: it is retired or the model itself"),
        (
            "openai/gpt-5.5",
            "    retires_on: '2026-01-01'\n",
            "openai/gpt-5.5 retires on 2026-01-01, before 2027-01-14",
        ),
    ],
)
def test_a_successor_must_be_offered_and_outlive_the_model(successor, extra, problem):
    models = _file(
        ENTRY,
        _entry("gpt-5.5"),
        _entry("gpt-3", "    retired: true\n    successor: openai/gpt-5.4\n"),
        _entry("gpt-4o", f"    successor: {successor}\n"),
    )
    prices = _prices(
        "gpt-5.4", "gpt-5.5", "gpt-4o", extra={"gpt-4o": "    retires_on: '2027-01-14'\n", "gpt-5.5": extra}
    )

    message = _join_problem(models, prices)

    assert message == f"llm-models.yaml: models[3].successor (openai/gpt-4o): {problem}"

"""The migration runner upserts the data files of models after the SQL seeds, every run."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from auralink.db.migrate import apply_migrations
from auralink.llm.models_file import ModelsFileError, default_models_file, default_prices_file, load_models

MODELS_TEXT = default_models_file().read_text()
PRICES_TEXT = default_prices_file().read_text()


def _models(dsn: str) -> dict[str, dict]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT p.name AS provider, m.name, m.display_name, m.context_window, m.input_price_per_mtok,"
            " m.output_price_per_mtok, m.supports_tools, m.capabilities, m.enabled, m.retired,"
            " m.retires_on, m.successor, m.updated_at"
            " FROM llm_models m JOIN llm_providers p ON p.id = m.provider_id"
        ).fetchall()
    return {f"{row['provider']}/{row['name']}": row for row in rows}


def _files(folder: Path, models: str = MODELS_TEXT, prices: str = PRICES_TEXT) -> dict[str, Path]:
    (folder / "llm-models.yaml").write_text(models)
    (folder / "llm-model-prices.yaml").write_text(prices)
    return {"models_file": folder / "llm-models.yaml", "prices_file": folder / "llm-model-prices.yaml"}


def test_the_database_holds_exactly_the_data_files(owner_dsn):
    rows = _models(owner_dsn)

    models = load_models()
    assert len(rows) == len(models) >= 40
    for model in models:
        row = rows[model.id]
        assert (row["display_name"], row["context_window"], row["supports_tools"]) == (
            model.display_name,
            model.context_window,
            model.supports_tools,
        )
        assert (row["input_price_per_mtok"], row["output_price_per_mtok"]) == (
            model.input_price_per_mtok,
            model.output_price_per_mtok,
        )
        assert row["capabilities"] == list(model.capabilities)
        assert (row["retired"], row["retires_on"], row["successor"]) == (
            model.retired,
            model.retires_on,
            model.successor,
        )


def test_seeding_again_changes_nothing(owner_dsn):
    before = _models(owner_dsn)

    assert apply_migrations(owner_dsn) == []

    assert _models(owner_dsn) == before  # updated_at included: no row was rewritten


def test_a_new_price_and_a_new_model_reach_the_database_and_an_operators_switch_stays(fresh, tmp_path):
    files = _files(tmp_path)
    apply_migrations(fresh.owner_dsn, **files)
    with psycopg.connect(fresh.owner_dsn, autocommit=True) as conn:
        conn.execute("UPDATE llm_models SET enabled = false WHERE name = 'gpt-5.4-mini'")
    mini = "  openai/gpt-5.4-mini:\n    source: gpt-5.4-mini\n    context_window: 272000\n"
    assert mini in PRICES_TEXT
    _files(
        tmp_path,
        MODELS_TEXT
        + "  - {provider: openai, name: gpt-7, display_name: GPT-7, capabilities: [chat, tools]}\n",
        PRICES_TEXT.replace(
            mini + "    input_price_per_mtok: '0.75'\n", mini + "    input_price_per_mtok: '0.625'\n"
        )
        + "  openai/gpt-7:\n    source: gpt-7\n    context_window: 400000\n"
        "    input_price_per_mtok: '1.25'\n    output_price_per_mtok: '10'\n",
    )

    apply_migrations(fresh.owner_dsn, **files)

    rows = _models(fresh.owner_dsn)
    assert rows["openai/gpt-5.4-mini"]["input_price_per_mtok"] == Decimal("0.625")
    assert rows["openai/gpt-5.4-mini"]["enabled"] is False
    assert rows["openai/gpt-7"]["output_price_per_mtok"] == Decimal("10")
    assert rows["openai/gpt-5.4"]["enabled"] is True


def test_a_model_the_dataset_drops_keeps_its_last_numbers_once_retired(fresh, tmp_path):
    files = _files(tmp_path)
    apply_migrations(fresh.owner_dsn, **files)
    before = _models(fresh.owner_dsn)["openai/gpt-4.1"]
    entry = "  - {provider: openai, name: gpt-4.1, display_name: GPT-4.1,\n"
    assert entry in MODELS_TEXT
    prices = PRICES_TEXT.split("  openai/gpt-4.1:\n")
    _files(
        tmp_path,
        MODELS_TEXT.replace(entry, entry + "     retired: true, successor: openai/gpt-5.4,\n"),
        prices[0] + "  openai/gpt-4.1-mini:\n" + prices[1].split("  openai/gpt-4.1-mini:\n", 1)[1],
    )

    apply_migrations(fresh.owner_dsn, **files)

    after = _models(fresh.owner_dsn)["openai/gpt-4.1"]
    assert (after["retired"], after["successor"], after["retires_on"]) == (True, "openai/gpt-5.4", None)
    assert (after["context_window"], after["input_price_per_mtok"]) == (
        before["context_window"],
        before["input_price_per_mtok"],
    )


def test_a_retired_model_without_numbers_is_written_on_a_new_database(fresh):
    apply_migrations(fresh.owner_dsn)

    row = _models(fresh.owner_dsn)["anthropic/claude-3-haiku-20240307"]
    assert (row["retired"], row["successor"], row["context_window"], row["input_price_per_mtok"]) == (
        True,
        "anthropic/claude-haiku-4-5-20251001",
        None,
        None,
    )


def test_only_a_retired_model_may_lack_a_price(owner_conn):
    with pytest.raises(psycopg.errors.CheckViolation):
        owner_conn.execute(
            "INSERT INTO llm_models (provider_id, name, display_name, context_window)"
            " SELECT id, 'unpriced', 'Unpriced', 1000 FROM llm_providers WHERE name = 'openai'"
        )


def test_an_entry_of_an_unknown_provider_fails_the_run_and_writes_nothing(owner_dsn, tmp_path):
    files = _files(
        tmp_path,
        MODELS_TEXT.replace("display_name: GPT-5.4,", "display_name: GPT 5.4,", 1)
        + "  - {provider: mistral, name: mistral-large, display_name: Mistral Large, capabilities: [chat]}\n",
        PRICES_TEXT + "  mistral/mistral-large:\n    source: mistral/mistral-large\n    context_window: 1\n"
        "    input_price_per_mtok: '2'\n    output_price_per_mtok: '6'\n",
    )
    before = _models(owner_dsn)

    with pytest.raises(ModelsFileError) as caught:
        apply_migrations(owner_dsn, **files)

    assert f"models[{len(load_models())}].provider: unknown provider 'mistral'" in caught.value.message
    assert _models(owner_dsn) == before


def test_a_malformed_file_fails_before_the_database_is_touched(tmp_path):
    files = _files(tmp_path, prices=PRICES_TEXT.replace("context_window: 922000", "context_window: -1", 1))

    with pytest.raises(ModelsFileError) as caught:
        # Port 9 refuses connections: the error must come from the file, not the database.
        apply_migrations("postgresql://nobody@127.0.0.1:9/none", **files)

    assert caught.value.message.startswith("llm-model-prices.yaml: models.openai/gpt-6.1-sol.context_window:")
    assert caught.value.code == "llm_models_invalid"


def test_a_missing_file_names_itself(tmp_path: Path):
    with pytest.raises(ModelsFileError) as caught:
        apply_migrations("postgresql://nobody@127.0.0.1:9/none", models_file=tmp_path / "llm-models.yaml")

    assert caught.value.message.startswith("llm-models.yaml: cannot be read")

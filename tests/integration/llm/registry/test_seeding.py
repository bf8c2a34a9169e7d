"""The migration runner upserts the data file of models after the SQL seeds, every run."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from auralink.db.migrate import apply_migrations
from auralink.llm.registry import ModelsFileError, default_models_file, load_models_file

FILE_TEXT = default_models_file().read_text()


def _models(dsn: str) -> dict[str, dict]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT p.name AS provider, m.name, m.display_name, m.context_window, m.input_price_per_mtok,"
            " m.output_price_per_mtok, m.supports_tools, m.capabilities, m.enabled, m.updated_at"
            " FROM llm_models m JOIN llm_providers p ON p.id = m.provider_id"
        ).fetchall()
    return {f"{row['provider']}/{row['name']}": row for row in rows}


def test_the_database_holds_exactly_the_data_file(owner_dsn):
    rows = _models(owner_dsn)

    entries = load_models_file(default_models_file())
    assert len(rows) == len(entries) >= 20
    for entry in entries:
        row = rows[f"{entry.provider}/{entry.name}"]
        assert (row["display_name"], row["context_window"], row["supports_tools"]) == (
            entry.display_name,
            entry.context_window,
            entry.supports_tools,
        )
        assert (row["input_price_per_mtok"], row["output_price_per_mtok"]) == (
            entry.input_price_per_mtok,
            entry.output_price_per_mtok,
        )
        assert row["capabilities"] == list(entry.capabilities)


def test_seeding_again_changes_nothing(owner_dsn):
    before = _models(owner_dsn)

    assert apply_migrations(owner_dsn) == []

    assert _models(owner_dsn) == before  # updated_at included: no row was rewritten


def test_a_new_price_and_a_new_model_reach_the_database_and_an_operators_switch_stays(fresh, tmp_path):
    models = tmp_path / "llm-models.yaml"
    models.write_text(FILE_TEXT)
    apply_migrations(fresh.owner_dsn, models_file=models)
    with psycopg.connect(fresh.owner_dsn, autocommit=True) as conn:
        conn.execute("UPDATE llm_models SET enabled = false WHERE name = 'gpt-4o-mini'")
    models.write_text(
        FILE_TEXT.replace("input_price_per_mtok: 0.15\n", "input_price_per_mtok: 0.1250\n")
        + "  - {provider: openai, name: gpt-5, display_name: GPT-5, context_window: 400000,\n"
        "     input_price_per_mtok: 1.25, output_price_per_mtok: 10, supports_tools: true,\n"
        "     capabilities: [chat, tools, reasoning]}\n"
    )

    apply_migrations(fresh.owner_dsn, models_file=models)

    rows = _models(fresh.owner_dsn)
    assert rows["openai/gpt-4o-mini"]["input_price_per_mtok"] == Decimal("0.125")
    assert rows["openai/gpt-4o-mini"]["enabled"] is False
    assert rows["openai/gpt-5"]["output_price_per_mtok"] == Decimal("10")
    assert rows["openai/gpt-4o"]["enabled"] is True


def test_an_entry_of_an_unknown_provider_fails_the_run_and_writes_nothing(owner_dsn, tmp_path):
    models = tmp_path / "llm-models.yaml"
    models.write_text(
        FILE_TEXT.replace("input_price_per_mtok: 2.50\n", "input_price_per_mtok: 2.40\n", 1)
        + "  - {provider: mistral, name: mistral-large, display_name: Mistral Large,\n"
        "     context_window: 1, input_price_per_mtok: 2, output_price_per_mtok: 6,\n"
        "     supports_tools: false, capabilities: [chat]}\n"
    )
    before = _models(owner_dsn)

    with pytest.raises(ModelsFileError) as caught:
        apply_migrations(owner_dsn, models_file=models)

    assert "models[24].provider: unknown provider 'mistral'" in caught.value.message
    assert _models(owner_dsn) == before


def test_a_malformed_file_fails_before_the_database_is_touched(tmp_path):
    models = tmp_path / "llm-models.yaml"
    models.write_text(FILE_TEXT.replace("context_window: 128000", "context_window: -1", 1))

    with pytest.raises(ModelsFileError) as caught:
        # Port 9 refuses connections: the error must come from the file, not the database.
        apply_migrations("postgresql://nobody@127.0.0.1:9/none", models_file=models)

    assert caught.value.message.startswith("llm-models.yaml: models[0].context_window (openai/gpt-4o):")
    assert caught.value.code == "llm_models_invalid"


def test_a_missing_file_names_itself(tmp_path: Path):
    with pytest.raises(ModelsFileError) as caught:
        apply_migrations("postgresql://nobody@127.0.0.1:9/none", models_file=tmp_path / "llm-models.yaml")

    assert caught.value.message.startswith("llm-models.yaml: cannot be read")

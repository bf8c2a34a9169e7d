"""Seed data: the registries every deployment starts with, kept current by idempotent upserts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from auralink.db import system_transaction
from auralink.db.migrate import apply_migrations
from auralink.llm.registry import default_models_file
from infra.local.postgres import LocalDatabase


def test_the_four_mcp_servers() -> None:
    with system_transaction() as conn:
        rows = conn.execute(
            "SELECT name, server_type, default_endpoint, transport, auth_kind, enabled FROM mcp_servers"
            " ORDER BY name"
        ).fetchall()

    assert [(row["name"], row["server_type"], row["default_endpoint"], row["auth_kind"]) for row in rows] == [
        ("deepwiki", "remote", "https://mcp.deepwiki.com/mcp", "none"),
        ("memory", "self-hosted", None, "none"),
        ("sequential-thinking", "self-hosted", None, "none"),
        ("supabase", "remote", "https://mcp.supabase.com/mcp", "bearer"),
    ]
    assert all(row["transport"] == "streamable-http" and row["enabled"] for row in rows)


def test_the_four_llm_providers() -> None:
    with system_transaction() as conn:
        rows = conn.execute("SELECT name, api_style FROM llm_providers ORDER BY name").fetchall()

    assert {row["name"]: row["api_style"] for row in rows} == {
        "anthropic": "anthropic",
        "google": "gemini",
        "meta": "bedrock",
        "openai": "openai",
    }


def test_models_of_every_provider_with_their_prices() -> None:
    with system_transaction() as conn:
        rows = conn.execute(
            """
            SELECT p.name AS provider, m.name, m.input_price_per_mtok, m.output_price_per_mtok,
                   m.context_window
              FROM llm_models m JOIN llm_providers p ON p.id = m.provider_id
            """
        ).fetchall()
    prices = {row["name"]: (row["input_price_per_mtok"], row["output_price_per_mtok"]) for row in rows}

    assert len(rows) >= 8
    assert {row["provider"] for row in rows} == {"openai", "anthropic", "google", "meta"}
    assert all(row["context_window"] > 0 and row["input_price_per_mtok"] > 0 for row in rows)
    assert prices["gpt-4o"] == (Decimal("2.5"), Decimal("10"))
    assert prices["gpt-4o-mini"] == (Decimal("0.15"), Decimal("0.6"))
    assert prices["claude-sonnet-4-20250514"] == (Decimal("3"), Decimal("15"))
    assert prices["claude-3-5-haiku-20241022"] == (Decimal("0.8"), Decimal("4"))
    assert prices["gemini-2.0-flash"] == (Decimal("0.1"), Decimal("0.4"))
    assert prices["meta.llama3-1-70b-instruct-v1:0"] == (Decimal("0.72"), Decimal("0.72"))


def test_reseeding_changes_nothing_that_did_not_change(fresh: LocalDatabase) -> None:
    apply_migrations(fresh.owner_dsn)
    with psycopg.connect(fresh.owner_dsn, row_factory=dict_row) as conn:
        before = conn.execute("SELECT name, updated_at FROM llm_models ORDER BY name").fetchall()

    apply_migrations(fresh.owner_dsn)

    with psycopg.connect(fresh.owner_dsn, row_factory=dict_row) as conn:
        assert conn.execute("SELECT name, updated_at FROM llm_models ORDER BY name").fetchall() == before


def test_reseeding_updates_prices_but_keeps_an_operators_switch(
    fresh: LocalDatabase, sql_copy: Path, tmp_path: Path
) -> None:
    models = tmp_path / "llm-models.yaml"
    models.write_text(default_models_file().read_text())
    apply_migrations(fresh.owner_dsn, sql_root=sql_copy, models_file=models)
    with psycopg.connect(fresh.owner_dsn, autocommit=True) as conn:
        conn.execute("UPDATE mcp_servers SET enabled = false WHERE name = 'supabase'")
        conn.execute("UPDATE llm_models SET enabled = false WHERE name = 'gpt-4o-mini'")
    models.write_text(
        models.read_text().replace(
            "name: gpt-4o\n    display_name: GPT-4o\n    context_window: 128000\n"
            "    input_price_per_mtok: 2.50\n    output_price_per_mtok: 10.00",
            "name: gpt-4o\n    display_name: GPT-4o\n    context_window: 128000\n"
            "    input_price_per_mtok: 2.00\n    output_price_per_mtok: 8.00",
        )
    )

    apply_migrations(fresh.owner_dsn, sql_root=sql_copy, models_file=models)

    with psycopg.connect(fresh.owner_dsn) as conn:
        enabled = conn.execute("SELECT enabled FROM mcp_servers WHERE name = 'supabase'").fetchone()
        model_enabled = conn.execute("SELECT enabled FROM llm_models WHERE name = 'gpt-4o-mini'").fetchone()
        price = conn.execute(
            "SELECT input_price_per_mtok, output_price_per_mtok FROM llm_models WHERE name = 'gpt-4o'"
        ).fetchone()
    assert enabled == (False,) and model_enabled == (False,)
    assert price == (Decimal("2.00"), Decimal("8.00"))

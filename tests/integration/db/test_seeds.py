"""Seed data: the registries every deployment starts with, kept current by idempotent upserts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from auralink.db import system_transaction
from auralink.db.migrate import apply_migrations
from auralink.llm.models_file import default_prices_file
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

    assert len(rows) >= 40
    assert {row["provider"] for row in rows} == {"openai", "anthropic", "google", "meta"}
    priced = [row for row in rows if row["context_window"] is not None]
    assert len(priced) >= 40
    assert all(row["context_window"] > 0 and row["input_price_per_mtok"] > 0 for row in priced)
    assert prices["gpt-5.4"] == (Decimal("2.5"), Decimal("15"))
    assert prices["gpt-5.4-mini"] == (Decimal("0.75"), Decimal("4.5"))
    assert prices["claude-sonnet-4-6"] == (Decimal("3"), Decimal("15"))
    assert prices["claude-haiku-4-5-20251001"] == (Decimal("1"), Decimal("5"))
    assert prices["gemini-2.5-flash-lite"] == (Decimal("0.1"), Decimal("0.4"))
    assert prices["us.meta.llama4-maverick-17b-instruct-v1:0"] == (Decimal("0.24"), Decimal("0.97"))


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
    prices = tmp_path / "llm-model-prices.yaml"
    prices.write_text(default_prices_file().read_text())
    apply_migrations(fresh.owner_dsn, sql_root=sql_copy, prices_file=prices)
    with psycopg.connect(fresh.owner_dsn, autocommit=True) as conn:
        conn.execute("UPDATE mcp_servers SET enabled = false WHERE name = 'supabase'")
        conn.execute("UPDATE llm_models SET enabled = false WHERE name = 'gpt-5.4-mini'")
    numbers = "  openai/gpt-5.4:\n    source: gpt-5.4\n    context_window: 1050000\n"
    prices.write_text(
        prices.read_text().replace(
            numbers + "    input_price_per_mtok: '2.5'\n    output_price_per_mtok: '15'\n",
            numbers + "    input_price_per_mtok: '2'\n    output_price_per_mtok: '8'\n",
        )
    )

    apply_migrations(fresh.owner_dsn, sql_root=sql_copy, prices_file=prices)

    with psycopg.connect(fresh.owner_dsn) as conn:
        enabled = conn.execute("SELECT enabled FROM mcp_servers WHERE name = 'supabase'").fetchone()
        model_enabled = conn.execute("SELECT enabled FROM llm_models WHERE name = 'gpt-5.4-mini'").fetchone()
        price = conn.execute(
            "SELECT input_price_per_mtok, output_price_per_mtok FROM llm_models WHERE name = 'gpt-5.4'"
        ).fetchone()
    assert enabled == (False,) and model_enabled == (False,)
    assert price == (Decimal("2.00"), Decimal("8.00"))

"""SQL of the LLM registry (`llm_providers`, `llm_models`).

The registry holds no user rows: the service reads it in any transaction, and only the migration
runner (as the owner) writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from auralink.db import Connection

_MODEL_SELECT = """
    SELECT p.name AS provider, p.api_style, p.base_url AS provider_base_url,
           p.enabled AS provider_enabled, m.name, m.display_name, m.context_window,
           m.input_price_per_mtok, m.output_price_per_mtok, m.supports_tools, m.capabilities,
           m.enabled
      FROM llm_models m
      JOIN llm_providers p ON p.id = m.provider_id
"""

# Prices, context windows and capabilities follow the data file; `enabled` stays the operator's.
# The WHERE clause leaves rows that did not change untouched, so their updated_at keeps telling
# when a price last changed.
_UPSERT_MODEL = """
    INSERT INTO llm_models
        (provider_id, name, display_name, context_window, input_price_per_mtok,
         output_price_per_mtok, supports_tools, capabilities)
    SELECT p.id, %(name)s, %(display_name)s, %(context_window)s, %(input_price_per_mtok)s,
           %(output_price_per_mtok)s, %(supports_tools)s, %(capabilities)s
      FROM llm_providers p
     WHERE p.name = %(provider)s
    ON CONFLICT (provider_id, name) DO UPDATE SET
        display_name          = EXCLUDED.display_name,
        context_window        = EXCLUDED.context_window,
        input_price_per_mtok  = EXCLUDED.input_price_per_mtok,
        output_price_per_mtok = EXCLUDED.output_price_per_mtok,
        supports_tools        = EXCLUDED.supports_tools,
        capabilities          = EXCLUDED.capabilities
    WHERE (llm_models.display_name, llm_models.context_window, llm_models.input_price_per_mtok,
           llm_models.output_price_per_mtok, llm_models.supports_tools, llm_models.capabilities)
          IS DISTINCT FROM
          (EXCLUDED.display_name, EXCLUDED.context_window, EXCLUDED.input_price_per_mtok,
           EXCLUDED.output_price_per_mtok, EXCLUDED.supports_tools, EXCLUDED.capabilities)
"""


def provider_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every provider with the number of its enabled models."""
    return conn.execute(
        """
        SELECT p.name, p.display_name, p.api_style, p.base_url, p.enabled,
               count(m.id) FILTER (WHERE m.enabled) AS model_count
          FROM llm_providers p
          LEFT JOIN llm_models m ON m.provider_id = p.id
         GROUP BY p.id
         ORDER BY p.name
        """
    ).fetchall()


def provider_row(conn: Connection, name: str) -> dict[str, Any] | None:
    return conn.execute(
        "SELECT name, display_name, api_style, base_url, enabled FROM llm_providers WHERE name = %s",
        (name,),
    ).fetchone()


def enabled_model_rows(
    conn: Connection, *, provider: str | None = None, capability: str | None = None
) -> list[dict[str, Any]]:
    """The models that can be called (model and provider enabled), optionally filtered."""
    return conn.execute(
        _MODEL_SELECT
        + """
         WHERE m.enabled AND p.enabled
           AND (%(provider)s::text IS NULL OR p.name = %(provider)s)
           AND (%(capability)s::text IS NULL OR %(capability)s = ANY (m.capabilities))
         ORDER BY p.name, m.name
        """,
        {"provider": provider, "capability": capability},
    ).fetchall()


def model_row(conn: Connection, provider: str, name: str) -> dict[str, Any] | None:
    """One model, enabled or not."""
    return conn.execute(_MODEL_SELECT + " WHERE p.name = %s AND m.name = %s", (provider, name)).fetchone()


def provider_names(conn: psycopg.Connection[Any]) -> set[str]:
    with conn.cursor(row_factory=tuple_row) as cursor:
        return {str(name) for (name,) in cursor.execute("SELECT name FROM llm_providers").fetchall()}


def upsert_models(conn: psycopg.Connection[Any], models: Sequence[dict[str, Any]]) -> None:
    """Insert or update the models of the data file (their providers must exist)."""
    with conn.cursor() as cursor:
        cursor.executemany(
            _UPSERT_MODEL,
            [{**model, "capabilities": list(model["capabilities"])} for model in models],
        )

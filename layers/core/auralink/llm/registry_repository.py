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

# Retired: flagged so by the data file, or on or past the provider's shutdown date (UTC), so that
# a model stops being offered on its day without any deployment.
_RETIRED = "(m.retired OR coalesce(m.retires_on <= (now() AT TIME ZONE 'UTC')::date, false))"

_MODEL_SELECT = f"""
    SELECT p.name AS provider, p.api_style, p.base_url AS provider_base_url,
           p.enabled AS provider_enabled, m.name, m.display_name, m.context_window,
           m.input_price_per_mtok, m.output_price_per_mtok, m.supports_tools, m.capabilities,
           m.enabled, {_RETIRED} AS retired, m.retires_on, m.successor
      FROM llm_models m
      JOIN llm_providers p ON p.id = m.provider_id
"""  # noqa: S608  (a constant expression)

# Everything follows the data files but `enabled`, which stays the operator's. A retired model the
# dataset no longer lists comes without numbers: it keeps the ones it had. The WHERE clause leaves
# rows that did not change untouched, so their updated_at keeps telling when a price last changed.
_UPSERT_MODEL = """
    INSERT INTO llm_models AS m
        (provider_id, name, display_name, context_window, input_price_per_mtok,
         output_price_per_mtok, supports_tools, capabilities, retired, retires_on, successor)
    SELECT p.id, %(name)s, %(display_name)s, %(context_window)s, %(input_price_per_mtok)s,
           %(output_price_per_mtok)s, %(supports_tools)s, %(capabilities)s, %(retired)s,
           %(retires_on)s, %(successor)s
      FROM llm_providers p
     WHERE p.name = %(provider)s
    ON CONFLICT (provider_id, name) DO UPDATE SET
        display_name          = EXCLUDED.display_name,
        context_window        = coalesce(EXCLUDED.context_window, m.context_window),
        input_price_per_mtok  = coalesce(EXCLUDED.input_price_per_mtok, m.input_price_per_mtok),
        output_price_per_mtok = coalesce(EXCLUDED.output_price_per_mtok, m.output_price_per_mtok),
        supports_tools        = EXCLUDED.supports_tools,
        capabilities          = EXCLUDED.capabilities,
        retired               = EXCLUDED.retired,
        retires_on            = EXCLUDED.retires_on,
        successor             = EXCLUDED.successor
    WHERE (m.display_name, m.context_window, m.input_price_per_mtok, m.output_price_per_mtok,
           m.supports_tools, m.capabilities, m.retired, m.retires_on, m.successor)
          IS DISTINCT FROM
          (EXCLUDED.display_name, coalesce(EXCLUDED.context_window, m.context_window),
           coalesce(EXCLUDED.input_price_per_mtok, m.input_price_per_mtok),
           coalesce(EXCLUDED.output_price_per_mtok, m.output_price_per_mtok),
           EXCLUDED.supports_tools, EXCLUDED.capabilities, EXCLUDED.retired, EXCLUDED.retires_on,
           EXCLUDED.successor)
"""


def provider_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every provider with the number of its models that can be called (enabled, not retired)."""
    return conn.execute(
        f"""
        SELECT p.name, p.display_name, p.api_style, p.base_url, p.enabled,
               count(m.id) FILTER (WHERE m.enabled AND NOT {_RETIRED}) AS model_count
          FROM llm_providers p
          LEFT JOIN llm_models m ON m.provider_id = p.id
         GROUP BY p.id
         ORDER BY p.name
        """  # noqa: S608  (a constant expression)
    ).fetchall()


def provider_row(conn: Connection, name: str) -> dict[str, Any] | None:
    return conn.execute(
        "SELECT name, display_name, api_style, base_url, enabled FROM llm_providers WHERE name = %s",
        (name,),
    ).fetchone()


def enabled_model_rows(
    conn: Connection, *, provider: str | None = None, capability: str | None = None
) -> list[dict[str, Any]]:
    """The models that can be called (model and provider enabled, model not retired), optionally
    filtered."""
    return conn.execute(
        _MODEL_SELECT
        + f"""
         WHERE m.enabled AND p.enabled AND NOT {_RETIRED}
           AND (%(provider)s::text IS NULL OR p.name = %(provider)s)
           AND (%(capability)s::text IS NULL OR %(capability)s = ANY (m.capabilities))
         ORDER BY p.name, m.name
        """,
        {"provider": provider, "capability": capability},
    ).fetchall()


def model_row(conn: Connection, provider: str, name: str) -> dict[str, Any] | None:
    """One model, enabled or not, retired or not."""
    return conn.execute(_MODEL_SELECT + " WHERE p.name = %s AND m.name = %s", (provider, name)).fetchone()


def provider_names(conn: psycopg.Connection[Any]) -> set[str]:
    with conn.cursor(row_factory=tuple_row) as cursor:
        return {str(name) for (name,) in cursor.execute("SELECT name FROM llm_providers").fetchall()}


def upsert_models(conn: psycopg.Connection[Any], models: Sequence[dict[str, Any]]) -> None:
    """Insert or update the models of the data files (their providers must exist)."""
    with conn.cursor() as cursor:
        cursor.executemany(_UPSERT_MODEL, models)

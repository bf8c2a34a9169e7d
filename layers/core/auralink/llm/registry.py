"""The LLM registry: providers, models with their prices, and what a call costs.

The models come from the data files (`auralink.llm.models_file`: the curated list joined with the
dataset's prices, upserted by the migration runner after every run) and are read from the
database; the providers from the SQL seeds. A model is named ``<provider>/<model>``, the model
part being the provider's own identifier. A retired model stays in the registry so that naming it
is refused with its successor, wherever it is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from auralink.db import system_transaction
from auralink.errors import ValidationFailed
from auralink.llm import registry_repository
from auralink.llm.api_models import ApiStyle, Model, Provider
from auralink.llm.models_file import MODELS_FILE_NAME, ModelsFileError, RegistryModel

_PER_MILLION = Decimal(1_000_000)


class ModelRetired(ValidationFailed):
    """The model is retired (422 model_retired); the message and ``successor`` name what to use."""

    code = "model_retired"

    def __init__(self, model_id: str, *, retired_on: date | None, successor: str | None) -> None:
        when = f" on {retired_on.isoformat()}" if retired_on is not None else ""
        instead = (
            f"use {successor} instead"
            if successor is not None
            else "choose another model (GET /api/v1/llm/models)"
        )
        message = f"model {model_id} was retired{when}: {instead}"
        super().__init__(message, details=[{"message": message, "model": model_id, "successor": successor}])
        self.model_id = model_id
        self.successor = successor


@dataclass(frozen=True)
class ModelEntry:
    """A model of the registry that may be called, as the chat gateway needs it."""

    provider: str
    name: str
    display_name: str
    api_style: ApiStyle
    # The provider's default endpoint; None where the deployment decides (Bedrock's region).
    provider_base_url: str | None
    context_window: int
    input_price_per_mtok: Decimal
    output_price_per_mtok: Decimal
    supports_tools: bool
    capabilities: tuple[str, ...]
    enabled: bool
    # False for a model of a user's own endpoint: its name is the user's, anything at all.
    listed: bool = True
    # The provider's announced shutdown date, after which the model is retired; its successor.
    retires_on: date | None = None
    successor: str | None = None

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"


def seed_models(conn: psycopg.Connection[Any], models: list[RegistryModel]) -> None:
    """Upsert the models of the data files (the migration runner calls this as the owner, after
    the SQL seeds that create the providers); a model of an unknown provider fails before any write."""
    known = registry_repository.provider_names(conn)
    for index, model in enumerate(models):
        if model.provider not in known:
            raise ModelsFileError(
                f"{MODELS_FILE_NAME}: models[{index}].provider: unknown provider {model.provider!r}"
            )
    registry_repository.upsert_models(conn, [_columns(model) for model in models])


def _columns(model: RegistryModel) -> dict[str, Any]:
    return {
        "provider": model.provider,
        "name": model.name,
        "display_name": model.display_name,
        "context_window": model.context_window,
        "input_price_per_mtok": model.input_price_per_mtok,
        "output_price_per_mtok": model.output_price_per_mtok,
        "supports_tools": model.supports_tools,
        "capabilities": list(model.capabilities),
        "retired": model.retired,
        "retires_on": model.retires_on,
        "successor": model.successor,
    }


def list_providers() -> list[Provider]:
    with system_transaction() as conn:
        rows = registry_repository.provider_rows(conn)
    return [Provider.model_validate(row) for row in rows]


def list_models(*, provider: str | None = None, capability: str | None = None) -> list[Model]:
    """The models that can be called now (enabled, not retired), optionally of one provider or with
    one capability."""
    with system_transaction() as conn:
        rows = registry_repository.enabled_model_rows(conn, provider=provider, capability=capability)
    return [to_model(_entry(row)) for row in rows]


def to_model(entry: ModelEntry) -> Model:
    return Model(
        id=entry.id,
        provider=entry.provider,
        name=entry.name,
        display_name=entry.display_name,
        context_window=entry.context_window,
        input_price_per_mtok=entry.input_price_per_mtok,
        output_price_per_mtok=entry.output_price_per_mtok,
        supports_tools=entry.supports_tools,
        capabilities=list(entry.capabilities),
        retires_on=entry.retires_on,
        successor=entry.successor,
    )


def split_model_id(model_id: str) -> tuple[str, str]:
    """``"<provider>/<model>"`` as (provider, model); `ValidationFailed` (model_not_found) when it is
    not of that shape. A model id always comes from a request's body or a workflow's definition:
    an unknown or disabled one is a 422, whichever request names it."""
    provider, slash, name = model_id.partition("/")
    if not (provider and slash and name):
        raise ValidationFailed(
            f"no model {model_id!r}: model ids are <provider>/<model>", code="model_not_found"
        )
    return provider, name


def find_model(model_id: str) -> ModelEntry | None:
    """The model, enabled or not; None when the registry has no such model; `ModelRetired` when
    it has retired (flagged so, or past its shutdown date: no model is called after that day)."""
    provider, name = split_model_id(model_id)
    with system_transaction() as conn:
        row = registry_repository.model_row(conn, provider, name)
    if row is None:
        return None
    if row["retired"]:
        raise ModelRetired(f"{provider}/{name}", retired_on=row["retires_on"], successor=row["successor"])
    return _entry(row)


def resolve_model(model_id: str) -> ModelEntry:
    """The model to call; `ValidationFailed` (model_not_found, model_disabled, model_retired) if
    unknown, off or retired."""
    entry = find_model(model_id)
    if entry is None:
        raise ValidationFailed(f"no model {model_id!r} in the registry", code="model_not_found")
    return enabled(entry)


def enabled(entry: ModelEntry) -> ModelEntry:
    """The model if it may be called; `ValidationFailed` (model_disabled) if it is switched off."""
    if not entry.enabled:
        raise ValidationFailed(f"model {entry.id!r} is disabled", code="model_disabled")
    return entry


# What is assumed of a model that the registry does not list, served by a user's own endpoint.
ENDPOINT_MODEL_CONTEXT_WINDOW = 128_000


def endpoint_model(provider: str, name: str, api_style: ApiStyle) -> ModelEntry:
    """A model the registry does not list, on a user's own OpenAI-compatible endpoint (Ollama,
    vLLM...): its prices are unknown to us, so its calls are counted at zero cost."""
    return ModelEntry(
        provider=provider,
        name=name,
        display_name=name,
        api_style=api_style,
        provider_base_url=None,
        context_window=ENDPOINT_MODEL_CONTEXT_WINDOW,
        input_price_per_mtok=Decimal(0),
        output_price_per_mtok=Decimal(0),
        supports_tools=True,
        capabilities=("chat", "tools"),
        enabled=True,
        listed=False,
    )


def cost_usd(model: ModelEntry, input_tokens: int, output_tokens: int) -> Decimal:
    """What a call cost in US dollars, exactly (prices are per million tokens; no rounding here)."""
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError("token counts cannot be negative")
    spent = input_tokens * model.input_price_per_mtok + output_tokens * model.output_price_per_mtok
    return spent / _PER_MILLION


def _entry(row: dict[str, Any]) -> ModelEntry:
    return ModelEntry(
        provider=row["provider"],
        name=row["name"],
        display_name=row["display_name"],
        api_style=row["api_style"],
        provider_base_url=row["provider_base_url"],
        context_window=row["context_window"],
        input_price_per_mtok=row["input_price_per_mtok"],
        output_price_per_mtok=row["output_price_per_mtok"],
        supports_tools=row["supports_tools"],
        capabilities=tuple(row["capabilities"]),
        enabled=bool(row["enabled"]) and bool(row["provider_enabled"]),
        retires_on=row["retires_on"],
        successor=row["successor"],
    )

"""The LLM registry: providers, models with their prices, and what a call costs.

The models come from the data file `llm-models.yaml` (validated here, upserted by the migration
runner after every run) and are read from the database; the providers from the SQL seeds.
A model is named ``<provider>/<model>``, the model part being the provider's own identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import psycopg
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from auralink.db import system_transaction
from auralink.errors import ConfigurationError, ValidationFailed
from auralink.llm import registry_repository
from auralink.llm.api_models import ApiStyle, Capability, Model, Provider

MODELS_FILE_NAME = "llm-models.yaml"
# In the core layer the build copies shared/configs/*.yaml next to the MCP configuration.
_PACKAGED_MODELS_FILE = Path(__file__).resolve().parents[1] / "config" / MODELS_FILE_NAME
_REPO_MODELS_FILE = Path(__file__).resolve().parents[4] / "shared" / "configs" / MODELS_FILE_NAME
_PER_MILLION = Decimal(1_000_000)


class ModelsFileError(ConfigurationError):
    """The data file of models is malformed; the message names the entry and the field."""

    code = "llm_models_invalid"


@dataclass(frozen=True)
class ModelEntry:
    """A model of the registry, as the chat gateway needs it."""

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

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"


class ModelFileEntry(BaseModel):
    """One entry of `llm-models.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:/-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    context_window: int = Field(gt=0)
    input_price_per_mtok: Decimal = Field(ge=0, max_digits=12, decimal_places=4)
    output_price_per_mtok: Decimal = Field(ge=0, max_digits=12, decimal_places=4)
    supports_tools: bool
    capabilities: tuple[Capability, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _tools_agree(self) -> ModelFileEntry:
        if self.supports_tools != ("tools" in self.capabilities):
            raise ValueError("supports_tools must be true exactly when capabilities include tools")
        return self


class ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    models: list[ModelFileEntry] = Field(min_length=1)


def default_models_file() -> Path:
    """`llm-models.yaml` packaged in the core layer, else the repository's `shared/configs/`."""
    return _PACKAGED_MODELS_FILE if _PACKAGED_MODELS_FILE.is_file() else _REPO_MODELS_FILE


def load_models_file(path: Path) -> list[ModelFileEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelsFileError(f"{path.name}: cannot be read ({exc.strerror})") from None
    return parse_models_file(text, source=path.name)


def parse_models_file(text: str, *, source: str = MODELS_FILE_NAME) -> list[ModelFileEntry]:
    """The entries of the data file; `ModelsFileError` names the first bad entry and field."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ModelsFileError(f"{source}: not valid YAML{where}") from None
    try:
        models = ModelsFile.model_validate(document).models
    except ValidationError as exc:
        raise ModelsFileError(f"{source}: {_describe(exc, document)}") from None
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(models):
        first = seen.setdefault((entry.provider, entry.name), index)
        if first != index:
            raise ModelsFileError(
                f"{source}: models[{index}] ({entry.provider}/{entry.name}) repeats models[{first}]"
            )
    return models


def _describe(error: ValidationError, document: Any) -> str:
    item = error.errors()[0]
    location = item["loc"]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
    entry = _entry_label(document, location)
    return f"{path}{entry}: {item['msg']}"


def _entry_label(document: Any, location: tuple[int | str, ...]) -> str:
    # "models[3] (openai/gpt-4o).input_price_per_mtok" reads better than an index alone.
    if len(location) < 2 or location[0] != "models" or not isinstance(location[1], int):
        return ""
    models = document.get("models") if isinstance(document, dict) else None
    entry = models[location[1]] if isinstance(models, list) and len(models) > location[1] else None
    if isinstance(entry, dict) and entry.get("provider") and entry.get("name"):
        return f" ({entry['provider']}/{entry['name']})"
    return ""


def seed_models(conn: psycopg.Connection[Any], entries: list[ModelFileEntry]) -> None:
    """Upsert the data file's models (the migration runner calls this as the owner, after the SQL
    seeds that create the providers); an entry of an unknown provider fails before any write."""
    known = registry_repository.provider_names(conn)
    for index, entry in enumerate(entries):
        if entry.provider not in known:
            raise ModelsFileError(
                f"{MODELS_FILE_NAME}: models[{index}].provider: unknown provider {entry.provider!r}"
            )
    registry_repository.upsert_models(conn, [entry.model_dump() for entry in entries])


def list_providers() -> list[Provider]:
    with system_transaction() as conn:
        rows = registry_repository.provider_rows(conn)
    return [Provider.model_validate(row) for row in rows]


def list_models(*, provider: str | None = None, capability: str | None = None) -> list[Model]:
    """The models that can be called now, optionally of one provider or with one capability."""
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
    """The model, enabled or not; None when the registry has no such model."""
    provider, name = split_model_id(model_id)
    with system_transaction() as conn:
        row = registry_repository.model_row(conn, provider, name)
    return None if row is None else _entry(row)


def resolve_model(model_id: str) -> ModelEntry:
    """The model to call; `ValidationFailed` (model_not_found, model_disabled) if unknown or off."""
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
    )

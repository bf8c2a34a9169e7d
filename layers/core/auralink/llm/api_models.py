"""Requests and answers of the LLM registry and preferences endpoints."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, PlainSerializer

from auralink.model import DeferredModel

ApiStyle = Literal["openai", "anthropic", "gemini", "bedrock"]
Capability = Literal["chat", "tools", "vision", "reasoning", "json"]
CAPABILITIES: tuple[Capability, ...] = ("chat", "tools", "vision", "reasoning", "json")

PROVIDER_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"
ProviderName = Annotated[str, Field(pattern=PROVIDER_NAME)]
# "<provider>/<model>": the model part is the provider's own identifier and may hold '/', ':' or '.'.
MODEL_ID = r"^[a-z0-9][a-z0-9-]{0,62}/[A-Za-z0-9._:/-]{1,200}$"

# Prices leave as JSON numbers, not strings: a numeric(12, 4) has at most 12 significant digits,
# which a double carries exactly enough that its shortest spelling is the same decimal.
Price = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class Provider(DeferredModel):
    name: str
    display_name: str
    api_style: ApiStyle
    base_url: str | None
    enabled: bool
    model_count: int


class ProviderList(DeferredModel):
    providers: list[Provider]


class Model(DeferredModel):
    id: str = Field(description="<provider>/<model>: what the chat endpoint and preferences take")
    provider: str
    name: str = Field(description="The identifier the provider's API expects")
    display_name: str
    context_window: int
    input_price_per_mtok: Price = Field(description="US dollars per million input tokens")
    output_price_per_mtok: Price = Field(description="US dollars per million output tokens")
    supports_tools: bool
    capabilities: list[str]
    retires_on: date | None = Field(
        description="The provider's announced shutdown date: from that day the model is refused"
        " (422 model_retired) and no longer listed"
    )
    successor: str | None = Field(description="The model to move to, where one is named")


class ModelList(DeferredModel):
    models: list[Model]


class _Input(DeferredModel):
    model_config = ConfigDict(extra="forbid")


class ProviderSettingsUpdate(_Input):
    """One provider's settings. A stored key cannot be read back, so leaving `api_key` out keeps
    the stored one; `null` removes it. `base_url` is replaced (left out or null: none)."""

    api_key: str | None = Field(default=None, min_length=1, max_length=4096, pattern=r"^[\x21-\x7e]+$")
    base_url: str | None = Field(default=None, min_length=1, max_length=2048)


class PreferencesUpdate(_Input):
    """Providers left out are kept; a provider set to null is forgotten, key and all.
    `default_model` left out is kept; null clears it."""

    default_model: str | None = Field(default=None, pattern=MODEL_ID, max_length=300)
    providers: dict[ProviderName, ProviderSettingsUpdate | None] = Field(default_factory=dict, max_length=32)


class ProviderSettings(DeferredModel):
    has_api_key: bool
    api_key_hint: str | None = Field(
        description="The key's well-known prefix and at most its last 4 characters, e.g. sk-...abcd"
    )
    base_url: str | None


class Preferences(DeferredModel):
    default_model: str | None
    providers: dict[str, ProviderSettings]
    updated_at: datetime | None

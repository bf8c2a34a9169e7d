"""The two data files of the LLM registry, read and joined.

`llm-models.yaml` is curated: which models the product offers (provider, name, display name,
capabilities), which are retired and what succeeds them. `llm-model-prices.yaml` is derived, never
typed: `python -m infra.model_catalog` (`make lock`) writes it from LiteLLM's pinned
`model_prices_and_context_window.json` with the prices, context windows and shutdown dates of the
offered models. The migration runner joins them and upserts the result into `llm_models`.

Both are checked before the database is touched; an error names the file, the entry and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from auralink.errors import ConfigurationError
from auralink.llm.api_models import MODEL_ID, PROVIDER_NAME, Capability
from auralink.model import DeferredModel

MODELS_FILE_NAME = "llm-models.yaml"
PRICES_FILE_NAME = "llm-model-prices.yaml"
# In the core layer the build copies shared/configs/*.yaml next to the MCP configuration.
_PACKAGED = Path(__file__).resolve().parents[1] / "config"
_REPO = Path(__file__).resolve().parents[4] / "shared" / "configs"
_REFRESH = "run `make lock` (python -m infra.model_catalog)"

# US dollars per million tokens, as `llm_models` stores them (numeric(12, 4)).
Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=4)]


class ModelsFileError(ConfigurationError):
    """A data file of models is malformed; the message names the file, the entry and the field."""

    code = "llm_models_invalid"


class _Strict(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelFileEntry(_Strict):
    """One entry of `llm-models.yaml`."""

    provider: str = Field(pattern=PROVIDER_NAME)
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:/-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    capabilities: tuple[Capability, ...] = Field(min_length=1)
    # The model's key in the dataset where it is not the provider's usual spelling of `name`.
    dataset_key: str | None = Field(default=None, min_length=1, max_length=300)
    # Withdrawn by its provider: kept so that a request naming it is refused with its successor.
    retired: bool = False
    successor: str | None = Field(default=None, pattern=MODEL_ID)

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"


class ModelsFile(_Strict):
    version: Literal[1]
    models: list[ModelFileEntry] = Field(min_length=1)


class ModelData(_Strict):
    """One model of `llm-model-prices.yaml`: what the dataset says of it."""

    source: str = Field(min_length=1, description="the model's key in the dataset")
    context_window: int = Field(gt=0)
    input_price_per_mtok: Price
    output_price_per_mtok: Price
    retires_on: date | None = None
    successor: str | None = Field(default=None, pattern=MODEL_ID)


class DatasetOrigin(_Strict):
    """Where the numbers come from, so that a reviewer can fetch the very same file."""

    package: str = Field(pattern=r"^litellm==[0-9][0-9a-z.]*$")
    member: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class PricesFile(_Strict):
    version: Literal[1]
    dataset: DatasetOrigin
    models: dict[str, ModelData]


@dataclass(frozen=True)
class RegistryModel:
    """A model as the migration runner writes it: the curated entry with the dataset's numbers.
    Only a retired model may lack a price and a context window (the dataset dropped it)."""

    provider: str
    name: str
    display_name: str
    capabilities: tuple[str, ...]
    context_window: int | None
    input_price_per_mtok: Decimal | None
    output_price_per_mtok: Decimal | None
    retired: bool
    retires_on: date | None
    successor: str | None

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"

    @property
    def supports_tools(self) -> bool:
        return "tools" in self.capabilities


def default_models_file() -> Path:
    """`llm-models.yaml` packaged in the core layer, else the repository's `shared/configs/`."""
    return _default(MODELS_FILE_NAME)


def default_prices_file() -> Path:
    return _default(PRICES_FILE_NAME)


def _default(name: str) -> Path:
    return _PACKAGED / name if (_PACKAGED / name).is_file() else _REPO / name


def load_models(models_path: Path | None = None, prices_path: Path | None = None) -> list[RegistryModel]:
    """The offered models with their prices: both files read, checked and joined."""
    entries = parse_models_file(_read(models_path or default_models_file()), source=MODELS_FILE_NAME)
    prices = parse_prices_file(_read(prices_path or default_prices_file()), source=PRICES_FILE_NAME)
    return join(entries, prices)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelsFileError(f"{path.name}: cannot be read ({exc.strerror})") from None


def parse_models_file(text: str, *, source: str = MODELS_FILE_NAME) -> list[ModelFileEntry]:
    """The curated entries; `ModelsFileError` names the first bad entry and field."""
    document = _yaml(text, source)
    try:
        models = ModelsFile.model_validate(document).models
    except ValidationError as exc:
        raise ModelsFileError(f"{source}: {_describe(exc, document)}") from None
    seen: dict[str, int] = {}
    for index, entry in enumerate(models):
        first = seen.setdefault(entry.id, index)
        if first != index:
            raise ModelsFileError(f"{source}: models[{index}] ({entry.id}) repeats models[{first}]")
        if entry.retired and entry.successor is None:
            raise ModelsFileError(
                f"{source}: models[{index}].successor ({entry.id}): a retired model names its successor"
            )
    return models


def parse_prices_file(text: str, *, source: str = PRICES_FILE_NAME) -> PricesFile:
    document = _yaml(text, source)
    try:
        return PricesFile.model_validate(document)
    except ValidationError as exc:
        raise ModelsFileError(f"{source}: {_describe(exc, document)}") from None


def join(entries: list[ModelFileEntry], prices: PricesFile) -> list[RegistryModel]:
    """Each curated entry with its numbers. Refused: an offered model without numbers, numbers of a
    model that is not offered (both mean the derived file is stale), and a successor that is not
    offered, is retired, or retires before the model it succeeds."""
    offered = {entry.id: entry for entry in entries}
    if stale := sorted(set(prices.models) - set(offered)):
        raise ModelsFileError(
            f"{PRICES_FILE_NAME}: models.{stale[0]} is not offered in {MODELS_FILE_NAME}: {_REFRESH}"
        )
    models: list[RegistryModel] = []
    for index, entry in enumerate(entries):
        data = prices.models.get(entry.id)
        if data is None and not entry.retired:
            raise ModelsFileError(
                f"{PRICES_FILE_NAME}: no price or context window for {entry.id}"
                f" ({MODELS_FILE_NAME} models[{index}]): {_REFRESH}"
            )
        models.append(_registry_model(entry, data))
    by_id = {model.id: model for model in models}
    for index, model in enumerate(models):
        if (problem := _successor_problem(model, by_id)) is not None:
            raise ModelsFileError(f"{MODELS_FILE_NAME}: models[{index}].successor ({model.id}): {problem}")
    return models


def _registry_model(entry: ModelFileEntry, data: ModelData | None) -> RegistryModel:
    return RegistryModel(
        provider=entry.provider,
        name=entry.name,
        display_name=entry.display_name,
        capabilities=entry.capabilities,
        context_window=data.context_window if data else None,
        input_price_per_mtok=data.input_price_per_mtok if data else None,
        output_price_per_mtok=data.output_price_per_mtok if data else None,
        retired=entry.retired,
        retires_on=data.retires_on if data else None,
        # The curated successor wins over the dataset's suggestion.
        successor=entry.successor or (data.successor if data else None),
    )


def _successor_problem(model: RegistryModel, by_id: dict[str, RegistryModel]) -> str | None:
    if model.successor is None:
        return None
    successor = by_id.get(model.successor)
    if successor is None:
        return f"{model.successor} is not offered"
    if successor.id == model.id or successor.retired:
        return f"{model.successor} cannot succeed it: it is retired or the model itself"
    # Whatever today is, a successor never retires before the model it replaces.
    if model.retires_on and successor.retires_on and successor.retires_on < model.retires_on:
        return f"{model.successor} retires on {successor.retires_on}, before {model.retires_on}"
    return None


def _yaml(text: str, source: str) -> Any:
    # Only the requests that read the models file.
    from auralink import yaml_documents  # noqa: PLC0415

    try:
        return yaml_documents.safe_load(text)
    except yaml_documents.NotYaml as exc:
        where = f" at line {exc.line}" if exc.line is not None else ""
        raise ModelsFileError(f"{source}: not valid YAML{where}") from None


def _describe(error: ValidationError, document: Any) -> str:
    item = error.errors()[0]
    location = item["loc"]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
    return f"{path}{_entry_label(document, location)}: {item['msg']}"


def _entry_label(document: Any, location: tuple[int | str, ...]) -> str:
    # "models[3] (openai/gpt-5.4).capabilities" reads better than an index alone.
    if len(location) < 2 or location[0] != "models" or not isinstance(location[1], int):
        return ""
    models = document.get("models") if isinstance(document, dict) else None
    entry = models[location[1]] if isinstance(models, list) and len(models) > location[1] else None
    if isinstance(entry, dict) and entry.get("provider") and entry.get("name"):
        return f" ({entry['provider']}/{entry['name']})"
    return ""

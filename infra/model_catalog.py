"""Write `shared/configs/llm-model-prices.yaml` from LiteLLM's model dataset, at a pinned version.

LiteLLM maintains `model_prices_and_context_window.json` (prices, context windows, shutdown dates
and successors of thousands of models) and ships a copy of it in every wheel. This downloads that
one wheel from PyPI (`pip download litellm==<pin> --no-deps`: nothing is installed or run), checks
the dataset against the wheel's RECORD, and keeps only what the registry uses of the models that
`llm-models.yaml` offers, with the dataset's version and sha256. The result is committed, so that
neither a fresh machine nor CI needs the network; `make lock` runs this.

    python -m infra.model_catalog                   # the pinned version
    python -m infra.model_catalog --version 1.111.0 # another one (then pin it below)
    python -m infra.model_catalog --wheel path.whl  # a wheel already downloaded
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from auralink.llm.models_file import (
    MODELS_FILE_NAME,
    PRICES_FILE_NAME,
    ModelFileEntry,
    ModelsFileError,
    parse_models_file,
    parse_prices_file,
)

# LiteLLM's release whose dataset the prices come from. 1.107.0 was a compromised release (pulled
# from PyPI); whichever version is pinned, only its JSON is read, nothing of it is installed or run.
PINNED_VERSION = "1.110.2"
DATASET_MEMBER = "litellm/model_prices_and_context_window_backup.json"
CONFIGS = Path(__file__).resolve().parents[1] / "shared" / "configs"

# How the dataset spells each provider's models: its `litellm_provider` values and the key's prefix.
_DATASET_SPELLING: dict[str, tuple[frozenset[str], str]] = {
    "openai": (frozenset({"openai"}), ""),
    "anthropic": (frozenset({"anthropic"}), ""),
    "google": (frozenset({"gemini"}), "gemini/"),
    "meta": (frozenset({"bedrock", "bedrock_converse"}), ""),
}
_PER_MILLION = Decimal(1_000_000)
_MAX_DECIMALS = 4  # llm_models keeps numeric(12, 4)
_HEADER = """\
# Derived, not edited: `make lock` (python -m infra.model_catalog) writes this file from LiteLLM's
# model_prices_and_context_window.json in the wheel `{package}` on PyPI, for the models that
# llm-models.yaml offers. Per model: its key in the dataset (`source`), `max_input_tokens` as
# context_window, `input_cost_per_token` and `output_cost_per_token` times a million as prices (US
# dollars per million tokens), `deprecation_date` as retires_on, and `successor_model` as
# successor where that model is offered too.
"""


class CatalogError(Exception):
    """The dataset cannot give what the curated list asks for; the message says what and why."""


@dataclass
class Derived:
    document: dict[str, Any]
    # Things a reviewer should know that do not stop the file from being written.
    notes: list[str] = field(default_factory=list)


def download_wheel(version: str, into: Path) -> Path:
    """The wheel of ``litellm==version``, downloaded by pip; never an sdist, whose build would run
    the package's code."""
    command = [
        sys.executable, "-m", "pip", "download", f"litellm=={version}", "--no-deps",
        "--only-binary=:all:", "--dest", str(into), "--quiet", "--disable-pip-version-check",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  # pip, with our arguments
    if result.returncode != 0:
        raise CatalogError(f"pip could not download litellm=={version}:\n{result.stderr.strip()}")
    wheels = sorted(into.glob(f"litellm-{version}-*.whl"))
    if not wheels:
        raise CatalogError(f"pip downloaded no wheel of litellm=={version}")
    return wheels[0]


def read_dataset(wheel: Path) -> tuple[dict[str, Any], str]:
    """The dataset in ``wheel`` and its sha256, after checking it against the wheel's RECORD."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        if DATASET_MEMBER not in names:
            raise CatalogError(f"{wheel.name} has no {DATASET_MEMBER}")
        data = archive.read(DATASET_MEMBER)
        records = [name for name in names if name.endswith(".dist-info/RECORD")]
        if len(records) != 1:
            raise CatalogError(f"{wheel.name} has no single RECORD to check {DATASET_MEMBER} against")
        record = archive.read(records[0]).decode()
    digest = hashlib.sha256(data)
    expected = f"sha256={base64.urlsafe_b64encode(digest.digest()).rstrip(b'=').decode()}"
    listed = [line.split(",") for line in record.splitlines() if line.startswith(f"{DATASET_MEMBER},")]
    if not listed or listed[0][1] != expected:
        raise CatalogError(f"{DATASET_MEMBER} does not match the hash in {wheel.name}'s RECORD")
    dataset = json.loads(data)
    if not isinstance(dataset, dict):
        raise CatalogError(f"{DATASET_MEMBER} is not a JSON object")
    return dataset, digest.hexdigest()


def dataset_key(entry: ModelFileEntry) -> str:
    if entry.dataset_key is not None:
        return entry.dataset_key
    if entry.provider not in _DATASET_SPELLING:
        raise CatalogError(
            f"{entry.id}: how the dataset spells provider {entry.provider!r} is unknown:"
            " add it to infra/model_catalog.py, or give the entry a dataset_key"
        )
    return _DATASET_SPELLING[entry.provider][1] + entry.name


def derive(dataset: dict[str, Any], entries: list[ModelFileEntry], *, version: str, sha256: str) -> Derived:
    """The prices file's document for the curated ``entries``; `CatalogError` lists every offered
    model the dataset cannot price. A retired model the dataset no longer lists is left out."""
    keys = {entry.id: dataset_key(entry) for entry in entries}
    offered_by_key = {key: model_id for model_id, key in keys.items()}
    derived = Derived(document={})
    models: dict[str, Any] = {}
    problems: list[str] = []
    for entry in entries:
        key = keys[entry.id]
        record = dataset.get(key)
        if not isinstance(record, dict):
            if not entry.retired:
                problems.append(f"{entry.id}: the dataset has no {key!r} (retire it, or fix its dataset_key)")
            continue
        try:
            models[entry.id] = _model(entry, key, record, offered_by_key, derived.notes)
        except CatalogError as exc:
            problems.append(f"{entry.id} ({key}): {exc}")
    if problems:
        raise CatalogError(
            f"litellm=={version} cannot price what {MODELS_FILE_NAME} offers:\n  " + "\n  ".join(problems)
        )
    derived.document = {
        "version": 1,
        "dataset": {"package": f"litellm=={version}", "member": DATASET_MEMBER, "sha256": sha256},
        "models": models,
    }
    return derived


def _model(
    entry: ModelFileEntry,
    key: str,
    record: dict[str, Any],
    offered_by_key: dict[str, str],
    notes: list[str],
) -> dict[str, Any]:
    providers = _DATASET_SPELLING.get(entry.provider, (frozenset(), ""))[0]
    if providers and record.get("litellm_provider") not in providers:
        raise CatalogError(f"is a model of {record.get('litellm_provider')!r}, not of {entry.provider}")
    if record.get("mode") != "chat":
        raise CatalogError(f"is a {record.get('mode')!r} model, not a chat model")
    if "tools" in entry.capabilities and record.get("supports_function_calling") is not True:
        raise CatalogError("is offered with tools, but the dataset does not say it calls functions")
    context = record.get("max_input_tokens")
    if not isinstance(context, int) or isinstance(context, bool) or context <= 0:
        raise CatalogError(f"has no usable max_input_tokens ({context!r})")
    model: dict[str, Any] = {
        "source": key,
        "context_window": context,
        "input_price_per_mtok": _per_million(record, "input_cost_per_token"),
        "output_price_per_mtok": _per_million(record, "output_cost_per_token"),
    }
    if (retires_on := record.get("deprecation_date")) is not None:
        model["retires_on"] = _date(retires_on)
    if (successor := record.get("successor_model")) is not None:
        if successor in offered_by_key:
            model["successor"] = offered_by_key[successor]
        else:
            notes.append(f"{entry.id}: the dataset's successor {successor!r} is not offered")
    return model


def _per_million(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise CatalogError(f"has no usable {name} ({value!r})")
    # The float's shortest spelling is the decimal the dataset's authors wrote.
    price = (Decimal(repr(value)) * _PER_MILLION).normalize()
    if -price.as_tuple().exponent > _MAX_DECIMALS:  # type: ignore[operator]
        raise CatalogError(f"{name} is {price} per million tokens: more than {_MAX_DECIMALS} decimals")
    return format(price, "f")


def _date(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise CatalogError(f"deprecation_date {value!r} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise CatalogError(f"deprecation_date {value!r} is not a date") from None


def render(document: dict[str, Any]) -> str:
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    text = _HEADER.format(package=document["dataset"]["package"]) + body
    # What is written must read back: the registry's own checks, before anything is replaced.
    try:
        parse_prices_file(text)
    except ModelsFileError as exc:
        raise CatalogError(exc.message) from None
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.model_catalog", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--version", default=PINNED_VERSION, help=f"LiteLLM's version (pinned: {PINNED_VERSION})"
    )
    parser.add_argument("--wheel", type=Path, help="a litellm wheel already downloaded (no network)")
    parser.add_argument("--configs", type=Path, default=CONFIGS, help="the folder of llm-models.yaml")
    args = parser.parse_args(argv)
    try:
        entries = parse_models_file((args.configs / MODELS_FILE_NAME).read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory(prefix="litellm-") as folder:
            wheel = args.wheel or download_wheel(args.version, Path(folder))
            version = _wheel_version(wheel)
            dataset, sha256 = read_dataset(wheel)
        derived = derive(dataset, entries, version=version, sha256=sha256)
        text = render(derived.document)
    except (CatalogError, ModelsFileError, OSError) as exc:
        sys.stderr.write(f"{getattr(exc, 'message', exc)}\n")
        return 1
    (args.configs / PRICES_FILE_NAME).write_text(text, encoding="utf-8")
    for note in derived.notes:
        sys.stderr.write(f"note: {note}\n")
    sys.stdout.write(
        f"{PRICES_FILE_NAME}: {len(derived.document['models'])} models from litellm=={version}"
        f" (sha256 {sha256[:12]}...)\n"
    )
    return 0


def _wheel_version(wheel: Path) -> str:
    # A wheel's name is <name>-<version>-<tags>.whl.
    parts = wheel.name.split("-")
    if len(parts) < 3 or parts[0] != "litellm":
        raise CatalogError(f"{wheel.name} is not a litellm wheel")
    return parts[1]


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m infra.model_catalog`: the derived prices file from a litellm wheel, on a wheel made here
(the same layout as PyPI's: the dataset and a RECORD holding its hash), so that nothing is fetched."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from auralink.llm.models_file import join, parse_models_file, parse_prices_file
from infra import model_catalog
from infra.model_catalog import DATASET_MEMBER, CatalogError, derive, main, read_dataset, render

CURATED = """version: 1
models:
  - {provider: openai, name: gpt-5.4, display_name: GPT-5.4, capabilities: [chat, tools]}
  - {provider: openai, name: gpt-4o, display_name: GPT-4o, capabilities: [chat, vision, tools]}
  - {provider: google, name: gemini-3.5-flash, display_name: Gemini 3.5 Flash, capabilities: [chat]}
  - {provider: meta, name: us.meta.llama4-scout-17b-instruct-v1:0, display_name: Llama 4 Scout,
     capabilities: [chat, tools]}
  - {provider: anthropic, name: claude-3-haiku-20240307, display_name: Claude 3 Haiku,
     capabilities: [chat], retired: true, successor: openai/gpt-5.4}
"""


def _chat(provider: str, input_cost: float, output_cost: float, **extra: Any) -> dict[str, Any]:
    return {
        "litellm_provider": provider,
        "mode": "chat",
        "max_input_tokens": 272000,
        "input_cost_per_token": input_cost,
        "output_cost_per_token": output_cost,
        "supports_function_calling": True,
        **extra,
    }


DATASET: dict[str, Any] = {
    "sample_spec": {"mode": "one of: chat, embedding, ..."},
    "gpt-5.4": _chat("openai", 2.5e-06, 1.5e-05, input_cost_per_token_batches=1.25e-06),
    "gpt-4o": _chat("openai", 2.5e-06, 1e-05, deprecation_date="2027-01-14", successor_model="gpt-5.4"),
    "gemini/gemini-3.5-flash": _chat("gemini", 1.5e-06, 9e-06, successor_model="gemini/gemini-3.6-flash"),
    "us.meta.llama4-scout-17b-instruct-v1:0": _chat("bedrock_converse", 1.7e-07, 6.6e-07),
    "gpt-image-1": {"litellm_provider": "openai", "mode": "image_generation"},
}


def _wheel(
    folder: Path, dataset: dict[str, Any], *, version: str = "1.110.2", record_hash: str | None = None
) -> Path:
    data = json.dumps(dataset).encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    wheel = folder / f"litellm-{version}-cp310-abi3-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(DATASET_MEMBER, data)
        archive.writestr(
            f"litellm-{version}.dist-info/RECORD",
            f"litellm/__init__.py,sha256=abc,1\n"
            f"{DATASET_MEMBER},sha256={record_hash or digest},{len(data)}\n",
        )
    return wheel


def _derived(dataset: dict[str, Any] | None = None, curated: str = CURATED) -> model_catalog.Derived:
    return derive(dataset or DATASET, parse_models_file(curated), version="1.110.2", sha256="0" * 64)


def test_the_dataset_is_read_from_the_wheel_and_checked_against_its_record(tmp_path):
    dataset, sha256 = read_dataset(_wheel(tmp_path, DATASET))

    assert dataset["gpt-5.4"]["input_cost_per_token"] == 2.5e-06
    assert sha256 == hashlib.sha256(json.dumps(DATASET).encode()).hexdigest()


def test_a_dataset_that_does_not_match_its_record_is_refused(tmp_path):
    with pytest.raises(CatalogError, match="does not match the hash"):
        read_dataset(_wheel(tmp_path, DATASET, record_hash="x" * 43))


def test_only_the_offered_models_are_kept_with_prices_per_million_tokens():
    document = _derived().document

    assert document["dataset"] == {
        "package": "litellm==1.110.2",
        "member": DATASET_MEMBER,
        "sha256": "0" * 64,
    }
    assert document["models"] == {
        "openai/gpt-5.4": {
            "source": "gpt-5.4",
            "context_window": 272000,
            "input_price_per_mtok": "2.5",
            "output_price_per_mtok": "15",
        },
        "openai/gpt-4o": {
            "source": "gpt-4o",
            "context_window": 272000,
            "input_price_per_mtok": "2.5",
            "output_price_per_mtok": "10",
            "retires_on": "2027-01-14",
            "successor": "openai/gpt-5.4",
        },
        "google/gemini-3.5-flash": {
            "source": "gemini/gemini-3.5-flash",
            "context_window": 272000,
            "input_price_per_mtok": "1.5",
            "output_price_per_mtok": "9",
        },
        "meta/us.meta.llama4-scout-17b-instruct-v1:0": {
            "source": "us.meta.llama4-scout-17b-instruct-v1:0",
            "context_window": 272000,
            "input_price_per_mtok": "0.17",
            "output_price_per_mtok": "0.66",
        },
    }


def test_a_successor_that_is_not_offered_is_left_out_and_noted():
    derived = _derived()

    assert "successor" not in derived.document["models"]["google/gemini-3.5-flash"]
    assert derived.notes == [
        "google/gemini-3.5-flash: the dataset's successor 'gemini/gemini-3.6-flash' is not offered"
    ]


def test_what_is_written_reads_back_and_joins_with_the_curated_list():
    text = render(_derived().document)

    assert text.startswith("# Derived, not edited: `make lock`")
    models = {model.id: model for model in join(parse_models_file(CURATED), parse_prices_file(text))}
    assert str(models["openai/gpt-5.4"].output_price_per_mtok) == "15"
    assert (models["anthropic/claude-3-haiku-20240307"].retired, models["openai/gpt-4o"].successor) == (
        True,
        "openai/gpt-5.4",
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.pop("gpt-5.4"), "openai/gpt-5.4: the dataset has no 'gpt-5.4'"),
        (lambda d: d["gpt-4o"].update(mode="embedding"), "is a 'embedding' model, not a chat model"),
        (lambda d: d["gpt-4o"].update(litellm_provider="azure"), "is a model of 'azure', not of openai"),
        (lambda d: d["gpt-4o"].pop("supports_function_calling"), "offered with tools, but the dataset"),
        (lambda d: d["gpt-4o"].pop("max_input_tokens"), "has no usable max_input_tokens (None)"),
        (lambda d: d["gpt-4o"].update(input_cost_per_token=1.23456e-07), "more than 4 decimals"),
        (lambda d: d["gpt-4o"].update(output_cost_per_token="free"), "has no usable output_cost_per_token"),
        (lambda d: d["gpt-4o"].update(deprecation_date="soon"), "deprecation_date 'soon' is not YYYY-MM-DD"),
    ],
)
def test_what_the_dataset_cannot_give_stops_the_derivation(change, problem):
    dataset = json.loads(json.dumps(DATASET))
    change(dataset)

    with pytest.raises(CatalogError) as caught:
        _derived(dataset)

    assert str(caught.value).startswith("litellm==1.110.2 cannot price what llm-models.yaml offers:")
    assert problem in str(caught.value)


def test_a_provider_the_script_does_not_know_needs_a_dataset_key():
    mistral = "  - {provider: mistral, name: large, display_name: Large, capabilities: [chat]%s}\n"

    with pytest.raises(CatalogError, match="how the dataset spells provider 'mistral' is unknown"):
        _derived(curated=CURATED + mistral % "")

    dataset = {**DATASET, "mistral/mistral-large": _chat("mistral", 2e-06, 6e-06)}
    document = _derived(dataset, CURATED + mistral % ", dataset_key: mistral/mistral-large").document
    assert document["models"]["mistral/large"]["source"] == "mistral/mistral-large"


def test_main_writes_the_prices_file_next_to_the_curated_one(tmp_path, capsys):
    (tmp_path / "llm-models.yaml").write_text(CURATED)
    wheel = _wheel(tmp_path, DATASET, version="1.111.0")

    assert main(["--wheel", str(wheel), "--configs", str(tmp_path)]) == 0

    prices = parse_prices_file((tmp_path / "llm-model-prices.yaml").read_text())
    assert prices.dataset.package == "litellm==1.111.0"
    assert set(prices.models) == {
        "openai/gpt-5.4",
        "openai/gpt-4o",
        "google/gemini-3.5-flash",
        "meta/us.meta.llama4-scout-17b-instruct-v1:0",
    }
    output = capsys.readouterr()
    assert "llm-model-prices.yaml: 4 models from litellm==1.111.0" in output.out
    assert "note: google/gemini-3.5-flash: the dataset's successor" in output.err


def test_main_leaves_the_file_alone_when_the_dataset_falls_short(tmp_path, capsys):
    (tmp_path / "llm-models.yaml").write_text(CURATED)
    (tmp_path / "llm-model-prices.yaml").write_text("kept\n")
    dataset = {key: value for key, value in DATASET.items() if key != "gpt-4o"}

    assert main(["--wheel", str(_wheel(tmp_path, dataset)), "--configs", str(tmp_path)]) == 1

    assert (tmp_path / "llm-model-prices.yaml").read_text() == "kept\n"
    assert "openai/gpt-4o: the dataset has no 'gpt-4o'" in capsys.readouterr().err

"""The YAML of the service's own files: compiled by the layer's build, parsed otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from auralink import yaml_documents

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "shared" / "configs").glob("*.yaml"))


@pytest.fixture
def compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    into = tmp_path / "yaml_documents.json"
    monkeypatch.setattr(yaml_documents, "COMPILED", into)
    monkeypatch.setattr(yaml_documents, "_cache", None)
    return into


def test_a_compiled_text_gives_the_document_yaml_gives(
    compiled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_documents.compile_files(SHIPPED, into=compiled)

    def no_parser(text: str) -> None:
        raise AssertionError("parsed although compiled")

    monkeypatch.setattr(yaml_documents, "_parse", no_parser)
    for path in SHIPPED:
        text = path.read_text(encoding="utf-8")
        assert yaml_documents.safe_load(text) == yaml.safe_load(text)


def test_each_call_gets_a_document_of_its_own(compiled: Path) -> None:
    yaml_documents.compile_files(SHIPPED[:1], into=compiled)
    text = SHIPPED[0].read_text(encoding="utf-8")

    first = yaml_documents.safe_load(text)
    first.clear()

    assert yaml_documents.safe_load(text) == yaml.safe_load(text)


def test_a_text_the_build_did_not_see_is_parsed(compiled: Path, tmp_path: Path) -> None:
    source = tmp_path / "config.yaml"
    source.write_text("a: 1\n", encoding="utf-8")
    yaml_documents.compile_files([source], into=compiled)

    assert yaml_documents.safe_load("a: 2\n") == {"a": 2}
    assert yaml_documents.safe_load("a: 1\n") == {"a": 1}


def test_no_compiled_documents_means_every_text_is_parsed(compiled: Path) -> None:
    assert not compiled.exists()
    assert yaml_documents.safe_load("servers: [deepwiki]\n") == {"servers": ["deepwiki"]}


@pytest.mark.parametrize("text", ["released: 2026-01-01\n", "1: one\n"])
def test_a_document_that_json_would_change_fails_the_build(compiled: Path, tmp_path: Path, text: str) -> None:
    source = tmp_path / "dated.yaml"
    source.write_text(text, encoding="utf-8")

    with pytest.raises((ValueError, TypeError)):
        yaml_documents.compile_files([source], into=compiled)
    assert not compiled.exists()


def test_text_that_is_not_yaml_names_the_parser_error_and_its_line() -> None:
    with pytest.raises(yaml_documents.NotYaml) as raised:
        yaml_documents.safe_load("version: 1\nmodels: [\n")
    assert raised.value.kind == "ParserError"
    assert raised.value.line == 3

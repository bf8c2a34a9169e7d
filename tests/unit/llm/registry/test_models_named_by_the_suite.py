"""The suite, the guides' examples and the sample events name only models that are not retired and
do not retire.

A model with a shutdown date in the dataset is refused from that day on, without any change in this
repository: a test or an example that called one would start failing on a date. Only the tests of
retirement itself name such models (they expect the refusal, or give the date themselves), and the
guides' prose may (it explains retirement); their shell examples, which run, may not.
"""

from __future__ import annotations

from pathlib import Path

from auralink.llm.models_file import load_models
from tests.support.doc_examples import documents, shell_blocks

ROOT = Path(__file__).resolve().parents[4]
SCANNED = ("tests/**/*.py", "events/*.json", "bench/**/*.py")
# These expect retired models to be refused, or write them to the database without calling them.
ABOUT_RETIREMENT = {
    "tests/integration/llm/registry/test_retirement.py",
    "tests/integration/llm/registry/test_seeding.py",
    "tests/unit/llm/registry/",
}


def _texts() -> dict[str, str]:
    found = {path for pattern in SCANNED for path in ROOT.glob(pattern)}
    texts = {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for path in found
        if not any(str(path.relative_to(ROOT)).startswith(prefix) for prefix in ABOUT_RETIREMENT)
    }
    for document in documents():
        for block in shell_blocks(document):
            texts[f"{block.document.relative_to(ROOT)}:{block.line}"] = "\n".join(block.lines)
    return texts


def test_no_test_guide_example_or_event_names_a_model_that_retires():
    retiring = sorted(model.id for model in load_models() if model.retired or model.retires_on is not None)
    assert retiring, "the dataset dates some models: the check below would check nothing"
    texts = _texts()
    assert any(where.startswith("docs/") for where in texts) and any(
        where.startswith("README") for where in texts
    )

    named = [
        f"{where}: {model_id}"
        for where, text in texts.items()
        for model_id in retiring
        if _names(text, model_id)
    ]

    assert named == [], "use a model without a shutdown date (see llm-model-prices.yaml)"


def _names(text: str, model_id: str) -> bool:
    # "openai/gpt-5" is not named by "openai/gpt-5.4": the id must end where the text's id ends.
    start = text.find(model_id)
    while start != -1:
        end = start + len(model_id)
        if end == len(text) or not (text[end].isalnum() or text[end] in "._:-/"):
            return True
        start = text.find(model_id, start + 1)
    return False

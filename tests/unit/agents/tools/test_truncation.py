"""What a run keeps of a tool's answer: all of it under the cap, a marked cut past it."""

from __future__ import annotations

import json

from auralink.agents.tools.truncation import cut_structured, cut_text

CAP = 1024


def test_answers_under_the_cap_are_kept_whole() -> None:
    assert cut_text("é" * (CAP // 2), CAP) == "é" * (CAP // 2)
    assert cut_structured({"a": [1, 2, 3]}, CAP) == {"a": [1, 2, 3]}
    assert cut_structured(None, CAP) is None


def test_text_past_the_cap_keeps_whole_characters_and_says_how_much_it_had() -> None:
    text = "€" * CAP  # three bytes each: the cap falls inside a character

    kept = cut_text(text, CAP)

    body, marker = kept.rsplit("\n", 1)
    assert body == "€" * (CAP // 3)
    assert marker == f"[truncated: {3 * CAP} bytes, the first {3 * (CAP // 3)} kept]"


def test_data_past_the_cap_becomes_a_marked_preview_within_the_cap() -> None:
    value = {"rows": [{"name": 'say "hi"\\', "n": n} for n in range(500)]}
    original = len(json.dumps(value, separators=(",", ":")).encode())

    kept = cut_structured(value, CAP)

    assert kept["truncated"] is True
    assert (kept["original_bytes"], kept["max_bytes"]) == (original, CAP)
    assert kept["preview"].startswith('{"rows":[{"name":"say \\"hi\\"')
    assert len(json.dumps(kept).encode()) <= CAP

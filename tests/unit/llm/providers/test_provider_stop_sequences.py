"""Stop sequences reach every provider in its own words, and are left out when there are none."""

from __future__ import annotations

from typing import Any

import pytest

from auralink.llm.chat_types import ChatMessage, ProviderRequest
from auralink.llm.providers import anthropic, bedrock, gemini, openai

STOP = ["\nObservation:", "END"]


def _openai(request: ProviderRequest) -> Any:
    return openai.request_body(request, official=False).get("stop")


def _anthropic(request: ProviderRequest) -> Any:
    return anthropic.request_body(request).get("stop_sequences")


def _gemini(request: ProviderRequest) -> Any:
    return gemini.request_body(request).get("generationConfig", {}).get("stopSequences")


def _bedrock(request: ProviderRequest) -> Any:
    return bedrock.request_params(request).get("inferenceConfig", {}).get("stopSequences")


@pytest.mark.parametrize("stop_of", [_openai, _anthropic, _gemini, _bedrock])
def test_stop_sequences_go_out_as_given(stop_of) -> None:
    hi = [ChatMessage(role="user", content="hi")]

    assert stop_of(ProviderRequest(model="m", messages=hi, stop=STOP)) == STOP
    assert stop_of(ProviderRequest(model="m", messages=hi)) is None

"""The adapter for each API style of the registry (`llm_providers.api_style`)."""

from __future__ import annotations

import functools

from auralink.errors import ConfigurationError
from auralink.llm.providers.anthropic import AnthropicProvider
from auralink.llm.providers.base import Provider
from auralink.llm.providers.gemini import GeminiProvider
from auralink.llm.providers.openai import OpenAIProvider

API_STYLES = ("openai", "anthropic", "gemini", "bedrock")


@functools.cache
def adapter_for(api_style: str) -> Provider:
    """One adapter per style and container: they hold no per-call state."""
    if api_style == "openai":
        return OpenAIProvider()
    if api_style == "anthropic":
        return AnthropicProvider()
    if api_style == "gemini":
        return GeminiProvider()
    if api_style == "bedrock":
        from auralink.llm.providers.bedrock import BedrockProvider  # noqa: PLC0415  # only when used

        return BedrockProvider()
    raise ConfigurationError(f"No adapter for the LLM API style {api_style!r}")

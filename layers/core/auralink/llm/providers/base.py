"""What every provider adapter offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import SecretStr

from auralink.llm.chat_types import ProviderReply, ProviderRequest


@dataclass(frozen=True)
class ProviderAccess:
    """How to reach a provider for one call: the key (decrypted for this call only), an optional
    OpenAI-compatible base URL, and for Bedrock the region. ``service_pays``: the call goes out
    on the service's key or AWS role, and counts against the user's daily LLM quotas."""

    api_key: SecretStr | None = field(default=None, repr=False)
    base_url: str | None = None
    region: str | None = None
    service_pays: bool = False


class Provider(Protocol):
    def chat(self, request: ProviderRequest, *, access: ProviderAccess, deadline_s: float) -> ProviderReply:
        """One call (no retries here: the gateway retries retryable failures within the deadline).

        Raises `auralink.llm.errors.LlmUpstreamError` / `LlmTimeout` with a stable code; 429 and
        5xx are retryable and carry the provider's Retry-After when it sent one. Never puts the
        key in a message or a log line.
        """
        ...

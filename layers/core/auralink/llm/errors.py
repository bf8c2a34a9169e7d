"""Failures of LLM providers, as the gateway reports them (each with a stable code)."""

from __future__ import annotations

from typing import Any

from auralink.errors import UpstreamError, UpstreamTimeout


class LlmUpstreamError(UpstreamError):
    """The provider refused, failed, or answered something we cannot read (502)."""

    code = "llm_upstream_error"

    def __init__(
        self,
        message: str,
        *,
        code: str,
        retryable: bool = False,
        retry_after_seconds: int | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds


class LlmTimeout(UpstreamTimeout):
    """The provider did not answer before the call's deadline (504)."""

    code = "llm_timeout"

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message, code="llm_timeout")
        self.retryable = retryable


UNREACHABLE = "llm_unreachable"  # connect error / DNS: retryable
RATE_LIMITED = "llm_rate_limited"  # 429 (after retries that honour Retry-After)
SERVER_ERROR = "llm_server_error"  # 5xx (retried, then this)
AUTH_FAILED = "llm_auth_failed"  # 401/403: the key is refused
BAD_REQUEST = "llm_bad_request"  # 400/404/422: the request or model name is wrong
PROTOCOL_ERROR = "llm_protocol_error"  # an answer we cannot read

"""Domain exceptions.

Each exception carries a stable machine-readable ``code``; `auralink.http` maps each class to one
HTTP status. Messages are safe to show to the caller: never put a secret, a SQL statement or an
internal path into one.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class BadRequest(DomainError):
    code = "bad_request"


class ValidationFailed(DomainError):
    code = "validation_failed"


class Unauthorized(DomainError):
    """The request carries no valid identity; ``code`` says why (token_missing, token_expired...)."""

    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_seconds = retry_after_seconds


class UpstreamError(DomainError):
    """A dependency outside the service (MCP server, LLM provider) failed or answered garbage."""

    code = "upstream_error"


class UpstreamTimeout(DomainError):
    code = "upstream_timeout"


class ServiceUnavailable(DomainError):
    """A dependency of the service itself (database, circuit open) cannot serve now."""

    code = "service_unavailable"

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: int | None = None,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after_seconds = retry_after_seconds


class ConfigurationError(DomainError):
    """The deployment is misconfigured (missing secret, invalid config file)."""

    code = "configuration_error"


class DecryptionError(DomainError):
    """A stored credential cannot be decrypted: wrong owner, wrong record, tampered or unknown key."""

    code = "credential_unreadable"

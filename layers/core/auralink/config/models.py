"""The shape of `mcp-config.yaml`, validated with pydantic (errors name the key path)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, HttpUrl, SecretStr, model_validator

from auralink.model import DeferredModel

AuthKind = Literal["none", "bearer", "header", "oauth"]
ProtocolMode = Literal["auto", "2025-11-25", "2026-07-28"]


class _Strict(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Strict):
    max_attempts: int = Field(default=3, ge=1, le=10)
    base_delay_ms: int = Field(default=200, ge=0, le=60_000)
    max_delay_ms: int = Field(default=2_000, ge=0, le=300_000)

    @model_validator(mode="after")
    def _ordered(self) -> RetryPolicy:
        if self.max_delay_ms < self.base_delay_ms:
            raise ValueError("max_delay_ms must be at least base_delay_ms")
        return self


class RateLimits(_Strict):
    per_user_per_minute: int = Field(default=60, ge=1)
    per_server_per_minute: int = Field(default=600, ge=1)


class CircuitBreakerPolicy(_Strict):
    failure_threshold: int = Field(default=5, ge=1)
    window_seconds: int = Field(default=60, ge=1)
    open_seconds: int = Field(default=30, ge=1)
    half_open_max_calls: int = Field(default=1, ge=1)
    # A server shared by every user: failures that one caller can provoke (5xx, overload,
    # timeouts) open its circuit only when this many users saw them within the window.
    distinct_users: int = Field(default=2, ge=1)


# What one server may send: the defaults of `ResponseCaps` (docs/mcp-limits.md, "Caps").
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_TOOLS = 500
DEFAULT_MAX_TOOL_SCHEMA_BYTES = 1024 * 1024


class ResponseCaps(_Strict):
    """Caps on what a server sends: refused past them, whatever the server's reason."""

    # Every HTTP answer of one MCP call (probe, handshake, pages, the call, error bodies), counted
    # as it arrives; the connection is dropped as soon as the count passes the cap.
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=1024, le=256 * 1024 * 1024)
    # A tool list longer than this, or whose tools (schemas and texts, as stored) weigh more, is refused.
    max_tools: int = Field(default=DEFAULT_MAX_TOOLS, ge=1, le=10_000)
    max_tool_schema_bytes: int = Field(default=DEFAULT_MAX_TOOL_SCHEMA_BYTES, ge=1024, le=64 * 1024 * 1024)


class Limits(_Strict):
    timeout_seconds: float = Field(default=20.0, gt=0, le=900)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    retries: RetryPolicy = RetryPolicy()
    rate_limits: RateLimits = RateLimits()
    circuit_breaker: CircuitBreakerPolicy = CircuitBreakerPolicy()
    response_caps: ResponseCaps = ResponseCaps()


class LimitOverrides(_Strict):
    """Per-server overrides of the defaults; a field left out keeps the default."""

    timeout_seconds: float | None = Field(default=None, gt=0, le=900)
    connect_timeout_seconds: float | None = Field(default=None, gt=0, le=60)
    retries: RetryPolicy | None = None
    rate_limits: RateLimits | None = None
    circuit_breaker: CircuitBreakerPolicy | None = None
    response_caps: ResponseCaps | None = None


class OAuthClient(_Strict):
    """A client the operator registered with a server's authorization server (kind `oauth`).
    Without one, the gateway registers itself dynamically (RFC 7591) where the server allows."""

    client_id: str = Field(min_length=1, max_length=1000)
    # A confidential client's secret: inline (from ${ENV}) or a secret id in Secrets Manager.
    client_secret: SecretStr | None = None
    client_secret_secret_id: str | None = None
    # Asked for instead of what the server's metadata advertises.
    scopes: list[str] = Field(default_factory=list, max_length=50)


class ServerAuth(_Strict):
    """How a server takes its key: `bearer` (and `oauth`) as `Authorization: Bearer <key>`,
    `header` in the header `header_name`; `none` takes no key. With `oauth`, a connection that
    brings no key signs the user in to the server (docs/mcp.md, "Servers behind OAuth")."""

    kind: AuthKind = "none"
    # For kind=header: the header that carries the key.
    header_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
    # False when the server also answers without a key (a key, if given, is still sent).
    required: bool = True
    # A service-wide key used when a connection brings none: inline (from ${ENV}) or a secret id.
    api_key: SecretStr | None = None
    api_key_secret_id: str | None = None
    oauth: OAuthClient | None = None

    @model_validator(mode="after")
    def _header_named(self) -> ServerAuth:
        if self.kind == "header" and not self.header_name:
            raise ValueError("header_name is required when kind is 'header'")
        if self.oauth is not None and self.kind != "oauth":
            raise ValueError("oauth (a registered client) is only for kind 'oauth'")
        return self

    @property
    def takes_key(self) -> bool:
        return self.kind != "none"

    def key_headers(self, key: str) -> dict[str, str]:
        """The headers that carry `key` to the server."""
        if self.kind == "header" and self.header_name:
            return {self.header_name: key}
        return {"Authorization": f"Bearer {key}"}


class ServerConfig(_Strict):
    display_name: str = Field(min_length=1)
    description: str = ""
    # Self-hosted servers (Memory, Sequential Thinking) run as functions of this service: their
    # endpoint is the service's own public URL (PUBLIC_API_URL) followed by `path`.
    hosted: bool = False
    path: str | None = Field(default=None, pattern=r"^/[A-Za-z0-9/_-]*$")
    endpoint: HttpUrl | None = None
    protocol: ProtocolMode = "auto"
    enabled: bool = True
    auth: ServerAuth = ServerAuth()
    capabilities: list[str] = Field(default_factory=lambda: ["tools"])
    limits: LimitOverrides = LimitOverrides()

    @model_validator(mode="after")
    def _reachable(self) -> ServerConfig:
        if self.hosted and not self.path:
            raise ValueError("path is required for a hosted server")
        if self.enabled and not self.hosted and self.endpoint is None:
            raise ValueError("endpoint is required for an enabled remote server")
        return self


class McpConfig(_Strict):
    version: Literal[1] = 1
    defaults: Limits = Limits()
    servers: dict[str, ServerConfig] = Field(min_length=1)

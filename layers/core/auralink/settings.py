"""Typed settings read from the environment once per container and validated at cold start.

A missing or malformed variable fails the cold start with a message naming the variable.
Variable names are case-insensitive and those the model does not know are ignored; a list is
written as comma-separated values. Secrets never live here: only the ids of the Secrets Manager
secrets that hold them (or, in development, a database URL pointing at the local server).
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from auralink.errors import ConfigurationError
from auralink.model import DeferredModel

Environment = Literal["development", "production"]
JwtAlgorithm = Literal["HS256", "RS256", "ES256"]
WebSearchProvider = Literal["duckduckgo", "searxng"]

DUCKDUCKGO_HTML_URL = "https://html.duckduckgo.com/html/"

_PACKAGED_MCP_CONFIG = Path(__file__).parent / "config" / "mcp-config.yaml"
_REPO_MCP_CONFIG = Path(__file__).resolve().parents[3] / "shared" / "configs" / "mcp-config.yaml"


_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,256}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(DeferredModel):
    """The settings as `get_settings()` reads them from the environment (each field from the
    variable of its name, in any case); tests build one from keyword arguments."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    environment: Environment = "production"
    # Read from POWERTOOLS_SERVICE_NAME, the variable that names the service to Powertools too.
    service_name: str = Field(default="auralink", validation_alias="powertools_service_name")

    # Database: a URL (local development) or the Secrets Manager secret holding it (AWS).
    database_url: SecretStr | None = None
    database_secret_id: str | None = None
    # Only the migration function gets the owner's secret.
    database_owner_secret_id: str | None = None
    database_owner_url: SecretStr | None = None
    db_statement_timeout_ms: int = Field(default=10_000, ge=100, le=900_000)
    db_connect_timeout_s: int = Field(default=5, ge=1, le=60)

    # Authentication: algorithms are pinned here and never taken from a token.
    auth_issuer: str
    auth_audience: str
    auth_algorithms: list[JwtAlgorithm] = Field(default_factory=lambda: ["RS256"])  # type: ignore[arg-type]  # a Literal list
    auth_jwks_url: str | None = None
    auth_jwt_secret_id: str | None = None

    # Secret holding the credential encryption keys: {"active_key_id": "k1", "k1": "<material>", ...}.
    credentials_key_secret_id: str | None = None
    # Secret (HS256 key) of the short-lived tokens the gateway mints to call the hosted MCP servers.
    service_token_secret_id: str | None = None
    # Secret with the service's own LLM keys, used when a user brings none: {"openai": "...", ...}.
    llm_service_keys_secret_id: str | None = None
    secrets_max_age_s: int = Field(default=300, ge=0, le=86_400)

    cors_allow_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=10 * 1024 * 1024)

    mcp_config_path: Path | None = None
    # The run state machine; only the functions that start runs get it (and may start executions).
    run_state_machine_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$"
    )
    # The Prefect API that pipelines run against (auralink.prefect_api): a URL locally (the local
    # runtime's own server, no key), or the secret holding {"api_url", "api_key"} in AWS.
    prefect_api_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    prefect_api_secret_id: str | None = None
    # Where Prefect's UI lives, for links to flow runs; unset: the API's URL without its /api.
    prefect_ui_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    # Where the run step keeps Prefect's task results for a resumed run to find: a bucket in AWS
    # (objects under the prefix), else a local folder. A bucket, when named, is used alone.
    pipeline_results_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    pipeline_results_prefix: str = Field(
        default="pipeline-results", pattern=r"^[A-Za-z0-9_.-]{1,64}(/[A-Za-z0-9_.-]{1,64}){0,7}$"
    )
    pipeline_results_path: Path | None = None
    # The service's own public base URL; the self-hosted MCP servers live under it, and it names
    # them as OAuth protected resources. Unset: the domain a request came in on.
    public_api_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    # The MCP endpoints as OAuth protected resources (auralink.mcp.resource): the scopes their
    # metadata advertises to MCP clients, and the app clients of the issuer (Cognito) whose access
    # tokens, which carry `client_id` and no `aud`, these endpoints accept besides AUTH_AUDIENCE.
    mcp_oauth_scopes: list[str] = Field(
        default_factory=lambda: ["openid", "email"], min_length=1, max_length=20
    )
    mcp_oauth_client_ids: list[str] = Field(default_factory=list, max_length=20)
    # Where the browser goes when a user's sign-in to an MCP server ends (with connection_id,
    # status and error in the query); unset, the callback answers a page of its own.
    mcp_oauth_return_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s#]*)?$")

    # The agents' web_search tool: DuckDuckGo's HTML endpoint, or a SearXNG-compatible JSON API.
    web_search_provider: WebSearchProvider = "duckduckgo"
    web_search_url: str = Field(default=DUCKDUCKGO_HTML_URL, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")

    # Caps on what one user may hold or ask for (docs/mcp-limits.md, "Caps"). The caps on what an
    # MCP server may send are in mcp-config.yaml (`response_caps`).
    max_connections_per_user: int = Field(default=50, ge=1, le=10_000)
    # A tool result kept in a run (its output, its checkpoints, what an agent reads): text and
    # structured content are each cut past this many bytes, with a marker that says so.
    max_tool_result_bytes: int = Field(default=64 * 1024, ge=1024, le=4 * 1024 * 1024)
    # A workflow template rendered at run time (a prompt, a tool argument), in characters.
    max_rendered_template_chars: int = Field(default=1_000_000, ge=1024, le=50_000_000)
    # max_tokens of one model call: the chat route, workflow llm nodes, every model call.
    llm_max_tokens: int = Field(default=16_384, ge=1, le=200_000)

    # Quotas per user (docs/quotas.md). Runs: at most this many not final (queued, running or
    # waiting for input) at once, and this many started per clock hour.
    quota_concurrent_runs: int = Field(default=5, ge=1, le=10_000)
    quota_runs_per_hour: int = Field(default=60, ge=1, le=1_000_000)
    # LLM calls the service pays for (its keys, or Bedrock on the function's role), per UTC day.
    quota_llm_tokens_per_day: int = Field(default=1_000_000, ge=1, le=10**12)
    quota_llm_cost_per_day_usd: Decimal = Field(default=Decimal(5), gt=0, le=1_000_000, decimal_places=6)
    # POST /api/v1/llm/chat, whoever pays, per clock minute.
    quota_llm_chat_per_minute: int = Field(default=30, ge=1, le=100_000)
    # Steps one run may take (each one at most the step function's 15 minutes).
    run_max_steps: int = Field(default=100, ge=1, le=10_000)

    # Keep MCP sessions open in a warm container from one invocation to the next (per server and
    # credentials, never shared between users; `auralink.mcp.session_pool`). The template turns it
    # on for every function; run steps keep theirs for the step either way.
    mcp_warm_sessions: bool = False

    # Outbound endpoints on loopback (custom MCP endpoints, LLM base URLs): the local runtime and
    # the tests turn this on; a deployment only by its AllowLoopbackEndpoints parameter, never
    # by its stage. Off, 127.0.0.1, ::1 and localhost are refused like any non-public address.
    allow_loopback_endpoints: bool = False

    _split = field_validator(
        "auth_algorithms", "cors_allow_origins", "mcp_oauth_scopes", "mcp_oauth_client_ids", mode="before"
    )(_split_csv)

    @field_validator("public_api_url")
    @classmethod
    def _without_trailing_slash(cls, url: str | None) -> str | None:
        # Paths are appended to it ("/mcp/gateway"): one spelling of each URL, whatever was configured.
        return url.rstrip("/") if url else url

    @field_validator("mcp_oauth_scopes")
    @classmethod
    def _scope_tokens(cls, scopes: list[str]) -> list[str]:
        # RFC 6749 §3.3: a scope is a run of printable ASCII without space, '"' or '\\'.
        for scope in scopes:
            if not _SCOPE_TOKEN.fullmatch(scope):
                raise ValueError(
                    f"{scope!r} is not an OAuth scope (printable ASCII, no space, quote or backslash)"
                )
        return list(dict.fromkeys(scopes))

    @field_validator("mcp_oauth_client_ids")
    @classmethod
    def _client_ids(cls, client_ids: list[str]) -> list[str]:
        for client_id in client_ids:
            if not _CLIENT_ID.fullmatch(client_id):
                raise ValueError(f"{client_id!r} is not an app client id (letters, digits, '-', '_', '.')")
        return client_ids

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if not (self.database_url or self.database_secret_id):
            raise ValueError("DATABASE_URL or DATABASE_SECRET_ID must be set")
        if not self.auth_algorithms:
            raise ValueError("AUTH_ALGORITHMS must name at least one algorithm")
        if "HS256" in self.auth_algorithms and not self.auth_jwt_secret_id:
            raise ValueError("AUTH_JWT_SECRET_ID must be set when AUTH_ALGORITHMS includes HS256")
        if {"RS256", "ES256"} & set(self.auth_algorithms) and not self.auth_jwks_url:
            raise ValueError("AUTH_JWKS_URL must be set when AUTH_ALGORITHMS includes RS256 or ES256")
        if self.prefect_api_url and self.prefect_api_secret_id:
            raise ValueError("PREFECT_API_URL and PREFECT_API_SECRET_ID are exclusive: set one")
        if self.web_search_provider == "searxng" and self.web_search_url == DUCKDUCKGO_HTML_URL:
            raise ValueError(
                "WEB_SEARCH_URL must point at the SearXNG instance when WEB_SEARCH_PROVIDER=searxng"
            )
        if self.environment == "production":
            self._check_production()
        return self

    def _check_production(self) -> None:
        if not self.web_search_url.startswith("https://"):
            raise ValueError("WEB_SEARCH_URL must be https in production")
        if "*" in self.cors_allow_origins:
            raise ValueError("CORS_ALLOW_ORIGINS must list origins in production, not '*'")
        if "HS256" in self.auth_algorithms:
            raise ValueError("AUTH_ALGORITHMS must not include HS256 in production")
        if self.allow_loopback_endpoints:
            raise ValueError("ALLOW_LOOPBACK_ENDPOINTS must be false in production")
        if self.auth_jwks_url and not self.auth_jwks_url.startswith("https://"):
            raise ValueError("AUTH_JWKS_URL must be https in production")
        if self.public_api_url and not self.public_api_url.startswith("https://"):
            raise ValueError("PUBLIC_API_URL must be https in production")
        if self.mcp_oauth_return_url and not self.mcp_oauth_return_url.startswith("https://"):
            raise ValueError("MCP_OAUTH_RETURN_URL must be https in production")

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def resolved_mcp_config_path(self) -> Path:
        if self.mcp_config_path is not None:
            return self.mcp_config_path
        return _PACKAGED_MCP_CONFIG if _PACKAGED_MCP_CONFIG.exists() else _REPO_MCP_CONFIG


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "environment"
        problems.append(f"{name}: {item['msg']}")
    return "invalid settings: " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The container's settings; the first call (at cold start) validates the environment."""
    try:
        return Settings.model_validate({name.lower(): value for name, value in os.environ.items()})
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


def reset_settings() -> None:
    """Forget cached settings (tests and the local runtime change the environment)."""
    get_settings.cache_clear()

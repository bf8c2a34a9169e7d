"""`mcp-config.yaml`: the MCP servers, their auth, limits and breaker, per environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr

from auralink.config.loader import load_config, parse_config, substitute
from auralink.config.models import Limits, McpConfig, ServerConfig
from auralink.errors import ConfigurationError, NotFound
from auralink.secrets import get_secret_string
from auralink.settings import get_settings

__all__ = [
    "Limits",
    "McpConfig",
    "ServerConfig",
    "api_key",
    "endpoint",
    "get_mcp_config",
    "is_enabled",
    "limits_for",
    "load_config",
    "parse_config",
    "reset_mcp_config",
    "server",
    "substitute",
]


@lru_cache(maxsize=1)
def get_mcp_config() -> McpConfig:
    """The container's configuration, loaded and validated once."""
    settings = get_settings()
    return load_config(settings.resolved_mcp_config_path(), environment=settings.environment)


def reset_mcp_config() -> None:
    get_mcp_config.cache_clear()


def server(name: str) -> ServerConfig:
    found = get_mcp_config().servers.get(name)
    if found is None:
        raise NotFound(f"Unknown MCP server: {name}", code="mcp_server_not_found")
    return found


def endpoint(name: str) -> str:
    found = server(name)
    if found.hosted:
        base = get_settings().public_api_url
        if not base:
            raise ConfigurationError(f"servers.{name} is hosted but PUBLIC_API_URL is not set")
        return base.rstrip("/") + (found.path or "")
    if found.endpoint is None:
        raise ConfigurationError(f"servers.{name}.endpoint is not configured")
    return str(found.endpoint)


def is_enabled(name: str) -> bool:
    return server(name).enabled


def api_key(name: str) -> SecretStr | None:
    """The service-wide key of a server (inline from the environment, or from Secrets Manager)."""
    auth = server(name).auth
    if auth.api_key is not None and auth.api_key.get_secret_value():
        return auth.api_key
    if auth.api_key_secret_id:
        return SecretStr(get_secret_string(auth.api_key_secret_id))
    return None


def oauth_client_secret(name: str) -> SecretStr | None:
    """The secret of the OAuth client configured for a server, if it has one."""
    client = server(name).auth.oauth
    if client is None:
        return None
    if client.client_secret is not None and client.client_secret.get_secret_value():
        return client.client_secret
    if client.client_secret_secret_id:
        return SecretStr(get_secret_string(client.client_secret_secret_id))
    return None


def limits_for(name: str) -> Limits:
    """The server's effective limits: its overrides over the defaults."""
    overrides = server(name).limits.model_dump(exclude_none=True)
    return Limits.model_validate({**get_mcp_config().defaults.model_dump(), **overrides})

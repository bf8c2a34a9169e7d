"""The product's own addresses in OAuth sign-ins to MCP servers: the callback (its redirect URI)
and its Client ID Metadata Document. Light on purpose: the document's function imports only this."""

from __future__ import annotations

from typing import Any

from auralink.errors import ConfigurationError

CALLBACK_PATH = "/api/v1/mcp/oauth/callback"
CLIENT_METADATA_PATH = "/api/v1/mcp/oauth/client-metadata.json"
CLIENT_NAME = "AuraLink AI Core"


def _public_base(api_base_url: str | None) -> str:
    # `edge.api_base_url` gives PUBLIC_API_URL first, else the domain the request came in on.
    if not api_base_url:
        raise ConfigurationError("The API's public URL is unknown: set PUBLIC_API_URL")
    return api_base_url.rstrip("/")


def redirect_uri(api_base_url: str | None) -> str:
    return _public_base(api_base_url) + CALLBACK_PATH


def client_metadata(api_base_url: str | None) -> dict[str, Any]:
    """The product's Client ID Metadata Document: its URL is the client_id at authorization
    servers that take one, so that no registration is needed there."""
    base = _public_base(api_base_url)
    return {
        "client_id": base + CLIENT_METADATA_PATH,
        "client_name": CLIENT_NAME,
        "client_uri": base,
        "redirect_uris": [base + CALLBACK_PATH],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }

"""The MCP endpoints AuraLink serves, as OAuth 2.0 protected resources (RFC 9728, and the MCP
authorization specification of 2025-11-25).

Each endpoint (the federated gateway, and each hosted server) is a resource of its own, named by
its absolute URL: the public base URL (``PUBLIC_API_URL``, else the domain the request came in on)
followed by its path. What an MCP client needs to sign in is in the resource's metadata:

- a request without a valid token is answered 401 with
  ``WWW-Authenticate: Bearer resource_metadata="<metadata URL>"`` (plus ``error="invalid_token"``
  when a token was sent and refused, RFC 6750 §3.1);
- the metadata (`ResourceMetadata`) names the configured issuer as the authorization server, the
  scopes to ask for, and the resource itself; it is served at the base URL followed by
  ``/.well-known/oauth-protected-resource`` and the endpoint's path, which is RFC 9728 §3.1's
  well-known URL whenever the base URL has no path of its own;
- a token is accepted only when it is meant for the resource: its ``aud`` names the resource's
  URL (an issuer with RFC 8707 resource indicators) or the API's own audience (``AUTH_AUDIENCE``,
  the tokens of the product's own clients); a Cognito access token, which carries ``client_id``
  instead of ``aud``, when that app client is ``AUTH_AUDIENCE`` or one of
  ``MCP_OAUTH_CLIENT_IDS`` (`auralink.auth.Audience`).

The `mcp` SDK has models for this metadata (`mcp.shared.auth.ProtectedResourceMetadata`), but
importing it costs about 0.6 s of cold start (the package imports all of its types), which the
metadata's own function must not pay: the model here is checked against the SDK's by the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field

from auralink import edge
from auralink.auth import Audience
from auralink.errors import NotFound, Unauthorized
from auralink.model import DeferredModel
from auralink.settings import Settings, get_settings

__all__ = [
    "METADATA_PREFIX",
    "RESOURCE_NAMES",
    "McpEndpoint",
    "ProtectedResource",
    "ResourceMetadata",
    "metadata_for",
    "resource_for_event",
]

METADATA_PREFIX = "/.well-known/oauth-protected-resource"

# The API's MCP endpoints, /mcp/<name>.
McpEndpoint = Literal["gateway", "memory", "sequential-thinking"]

# The MCP endpoints of the API, by path, with the name their metadata shows to a person.
RESOURCE_NAMES: Mapping[str, str] = {
    "/mcp/gateway": "AuraLink MCP gateway",
    "/mcp/memory": "AuraLink Memory MCP server",
    "/mcp/sequential-thinking": "AuraLink Sequential Thinking MCP server",
}


class ResourceMetadata(DeferredModel):
    """RFC 9728 §2 protected resource metadata, with the fields an MCP client reads."""

    model_config = ConfigDict(frozen=True)

    resource: str = Field(description="The resource's identifier: the MCP endpoint's absolute URL")
    authorization_servers: list[str] = Field(
        min_length=1, description="Issuers whose access tokens the resource accepts (RFC 8414 issuer URLs)"
    )
    scopes_supported: list[str] = Field(description="Scopes an MCP client should ask for")
    bearer_methods_supported: list[Literal["header"]] = Field(
        description="Tokens are sent in the Authorization header only"
    )
    resource_name: str = Field(description="The resource's name, for people")


@dataclass(frozen=True)
class ProtectedResource:
    """One MCP endpoint of the API as the base URL ``base_url`` serves it."""

    path: str
    base_url: str

    @property
    def url(self) -> str:
        return self.base_url + self.path

    @property
    def metadata_url(self) -> str:
        return self.base_url + METADATA_PREFIX + self.path

    def audience(self, settings: Settings | None = None) -> Audience:
        """What a token for this resource may name as its audience, or its app client."""
        settings = settings or get_settings()
        return Audience(
            audiences=(self.url, settings.auth_audience),
            client_ids=(settings.auth_audience, *settings.mcp_oauth_client_ids),
        )

    def metadata(self, settings: Settings | None = None) -> ResourceMetadata:
        """The resource's metadata; `NotFound` when the service has no issuer a client could use."""
        settings = settings or get_settings()
        if not _is_http_url(settings.auth_issuer):
            # A stack without an OIDC issuer signs its own HS256 tokens: no authorization server
            # exists that a client could be sent to.
            raise NotFound(
                "This deployment has no authorization server for MCP clients",
                code="authorization_server_unconfigured",
            )
        return ResourceMetadata(
            resource=self.url,
            authorization_servers=[settings.auth_issuer],
            scopes_supported=list(settings.mcp_oauth_scopes),
            bearer_methods_supported=["header"],
            resource_name=RESOURCE_NAMES[self.path],
        )

    def challenge(self, refused: Unauthorized | None = None, settings: Settings | None = None) -> str:
        """The ``WWW-Authenticate`` value of a 401 on this resource: ``refused`` is the error of a
        token that was sent, None when none was (RFC 6750 §3.1: then no error code)."""
        settings = settings or get_settings()
        parameters: list[str] = []
        if refused is not None:
            parameters += ['error="invalid_token"', f'error_description="{refused.code}"']
        if _is_http_url(settings.auth_issuer):
            parameters.append(f'resource_metadata="{self.metadata_url}"')
        return "Bearer " + ", ".join(parameters) if parameters else "Bearer"


def metadata_for(event: Mapping[str, Any], path: str) -> ResourceMetadata:
    """The metadata of the resource at ``path`` on the API the request came in on."""
    found = resource_for_event(event, path)
    if found is None:
        raise NotFound("No such MCP endpoint", code="route_not_found")
    return found.metadata()


def resource_for_event(event: Mapping[str, Any], path: str) -> ProtectedResource | None:
    """The resource at ``path`` for the API a request came in on; None when its URL is unknown."""
    base_url = edge.api_base_url(event)
    if base_url is None or path not in RESOURCE_NAMES:
        return None
    return ProtectedResource(path=path, base_url=base_url.rstrip("/"))


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"https", "http"} and bool(parts.netloc) and not parts.query and not parts.fragment

"""The MCP endpoints as OAuth protected resources: their URLs, metadata and 401 challenge."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl

from auralink.errors import NotFound, Unauthorized
from auralink.mcp.resource import RESOURCE_NAMES, ProtectedResource
from auralink.settings import Settings

BASE_URL = "https://api.example.com"
COGNITO = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool"


def settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "development",
        "database_url": "postgresql://app@db/auralink",
        "auth_issuer": COGNITO,
        "auth_audience": "web-app-client",
        "auth_algorithms": ["RS256"],
        "auth_jwks_url": f"{COGNITO}/.well-known/jwks.json",
        "mcp_oauth_scopes": ["openid", "https://api.example.com/mcp"],
        "mcp_oauth_client_ids": ["vscode-client"],
    }
    return Settings(**{**values, **changes})


@pytest.mark.parametrize("path", sorted(RESOURCE_NAMES))
def test_the_metadata_url_is_rfc_9728s_well_known_url(path):
    resource = ProtectedResource(path=path, base_url=BASE_URL)

    assert resource.url == BASE_URL + path
    assert resource.metadata_url == str(build_resource_metadata_url(AnyHttpUrl(resource.url)))


def test_the_metadata_is_what_the_sdks_client_reads():
    resource = ProtectedResource(path="/mcp/gateway", base_url=BASE_URL)

    document = resource.metadata(settings()).model_dump_json()
    parsed = ProtectedResourceMetadata.model_validate_json(document)

    assert str(parsed.resource) == f"{BASE_URL}/mcp/gateway"
    assert [str(server) for server in parsed.authorization_servers] == [COGNITO]
    assert parsed.scopes_supported == ["openid", "https://api.example.com/mcp"]
    assert parsed.bearer_methods_supported == ["header"]
    assert parsed.resource_name == "AuraLink MCP gateway"


def test_a_token_may_name_the_resource_or_the_api_or_a_listed_app_client():
    audience = ProtectedResource(path="/mcp/memory", base_url=BASE_URL).audience(settings())

    assert audience.audiences == (f"{BASE_URL}/mcp/memory", "web-app-client")
    assert audience.client_ids == ("web-app-client", "vscode-client")


def test_the_challenge_has_an_error_only_for_a_token_that_was_sent():
    resource = ProtectedResource(path="/mcp/gateway", base_url=BASE_URL)
    metadata = f'resource_metadata="{BASE_URL}/.well-known/oauth-protected-resource/mcp/gateway"'
    expired = Unauthorized("token has expired", code="token_expired")

    assert resource.challenge(None, settings()) == f"Bearer {metadata}"
    assert resource.challenge(expired, settings()) == (
        f'Bearer error="invalid_token", error_description="token_expired", {metadata}'
    )


def test_a_stack_without_an_issuer_url_has_no_metadata_to_point_to():
    # Without an OIDC issuer the stack signs its own HS256 tokens: no server a client could use.
    own = settings(auth_issuer="auralink:auralink-dev", auth_algorithms=["HS256"], auth_jwt_secret_id="jwt")
    resource = ProtectedResource(path="/mcp/gateway", base_url=BASE_URL)

    with pytest.raises(NotFound) as refused:
        resource.metadata(own)
    assert refused.value.code == "authorization_server_unconfigured"
    assert resource.challenge(None, own) == "Bearer"
    assert resource.challenge(Unauthorized("x", code="token_malformed"), own) == (
        'Bearer error="invalid_token", error_description="token_malformed"'
    )

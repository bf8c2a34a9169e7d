"""An MCP client signs in to the federated endpoint the way the MCP authorization specification
says, with the `mcp` SDK's own OAuth client (`mcp.client.auth.OAuthClientProvider`), against an
authorization server shaped like a Cognito user pool (`tests/fakes/oauth_server.py`): the 401's
`resource_metadata`, the endpoint's metadata, the issuer's OpenID discovery under its path, a
pre-registered app client (no dynamic registration), PKCE and the RFC 8707 resource, then the
tools with the token the pool issued.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.fakes.oauth_server import CognitoLikeServer
from tests.integration.mcp.hosted.conftest import Endpoint
from tests.support.environment import forget_caches

APP_CLIENT = "vscode-mcp-client"
REDIRECT_URI = "http://127.0.0.1:33418/"


class MemoryStorage:
    """Where a client keeps its registration and tokens; the registration is the operator's."""

    def __init__(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info: OAuthClientInformationFull | None = client_info
        self.tokens: OAuthToken | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@pytest.fixture
def pool() -> Iterator[CognitoLikeServer]:
    with CognitoLikeServer(sub="signed-in-user") as server:
        server.register(APP_CLIENT, [REDIRECT_URI])
        yield server


@pytest.fixture
def signed_in_endpoint(endpoint: Endpoint, gateway: pytest.MonkeyPatch, pool: CognitoLikeServer) -> Endpoint:
    """The federated endpoint of a deployment whose issuer is the pool, MCP clients' app client listed."""
    gateway.setenv("AUTH_ISSUER", pool.issuer)
    gateway.setenv("AUTH_ALGORITHMS", "RS256")
    gateway.setenv("AUTH_JWKS_URL", pool.jwks_url)
    gateway.setenv("MCP_OAUTH_CLIENT_IDS", APP_CLIENT)
    forget_caches()
    return endpoint


def sign_in_and_list_tools(endpoint: Endpoint, pool: CognitoLikeServer) -> tuple[list[str], MemoryStorage]:
    storage = MemoryStorage(
        OAuthClientInformationFull(
            client_id=APP_CLIENT, redirect_uris=[REDIRECT_URI], token_endpoint_auth_method="none"
        )
    )
    redirected_to: list[str] = []

    async def open_browser(authorization_url: str) -> None:
        # The user's browser: the pool signs them in and sends them back to the client's callback.
        async with httpx2.AsyncClient() as browser:
            answer = await browser.get(authorization_url)
        assert answer.status_code == 302, answer.text
        redirected_to.append(answer.headers["location"])

    async def callback() -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(redirected_to[-1]).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0])

    provider = OAuthClientProvider(
        server_url=endpoint.url,
        client_metadata=OAuthClientMetadata(redirect_uris=[REDIRECT_URI], token_endpoint_auth_method="none"),
        storage=storage,
        redirect_handler=open_browser,
        callback_handler=callback,
    )

    async def run() -> list[str]:
        async with (
            httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30.0)) as http,
            Client(streamable_http_client(endpoint.url, http_client=http), mode="legacy") as client,
        ):
            return [tool.name for tool in (await client.list_tools()).tools]

    return anyio.run(run), storage


def test_an_sdk_client_finds_the_pool_from_the_401_and_signs_in(signed_in_endpoint, pool):
    tools, storage = sign_in_and_list_tools(signed_in_endpoint, pool)

    # The client asked the pool the endpoint's metadata named, for the endpoint as its resource,
    # with the scopes the metadata advertises and PKCE.
    [asked] = pool.authorizations
    assert asked["client_id"] == APP_CLIENT
    assert asked["resource"] == signed_in_endpoint.url
    assert asked["scope"] == "openid email"
    assert asked["code_challenge_method"] == "S256"
    assert storage.tokens is not None
    assert tools == []  # the pool's user has no connections yet: an empty catalogue, not a 401


def test_a_pool_token_without_a_resource_is_accepted_for_a_listed_app_client_only(signed_in_endpoint, pool):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    listed = pool.access_token(APP_CLIENT, "openid email")
    other = pool.access_token("some-other-app-client", "openid email")
    for_another_resource = pool.access_token(APP_CLIENT, "openid", resource="https://elsewhere.example/mcp")

    accepted = signed_in_endpoint.post(listed, "POST", body, **headers)
    refused = [
        signed_in_endpoint.post(token, "POST", body, **headers) for token in (other, for_another_resource)
    ]

    assert accepted.status_code == 200, accepted.text
    assert [answer.status_code for answer in refused] == [401, 401]
    for answer in refused:
        assert (
            'error="invalid_token", error_description="token_invalid_audience"'
            in answer.headers["www-authenticate"]
        )


def test_the_mcp_clients_app_client_is_not_the_apis(signed_in_endpoint, pool, api_url):
    # MCP_OAUTH_CLIENT_IDS opens the MCP endpoints only: the REST API's authorizer wants AUTH_AUDIENCE.
    token = pool.access_token(APP_CLIENT, "openid email")

    answer = httpx2.get(f"{api_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 401

"""Connections to MCP servers behind OAuth, through the gateway's functions, against servers on loopback.

`sign_in(authorization_url)` does what the user's browser does: it follows the authorization
server's redirects until they reach the API's callback, and hands that request to the callback
function (status, page, headers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from auralink.mcp.oauth.urls import CALLBACK_PATH
from tests.fakes.mcp_oauth import OAuthMcpServer
from tests.integration.mcp.gateway.conftest import api, gateway  # noqa: F401  # fixtures of this folder too
from tests.support.handlers import http_event, invoke

Callback = tuple[int, str, dict[str, str]]


def callback(query: dict[str, str]) -> Callback:
    """The API's callback route as API Gateway sends it a browser's request (no token)."""
    event = http_event("McpOAuthCallbackFunction")
    event["queryStringParameters"] = query or None
    event["rawQueryString"] = urlencode(query)
    response = invoke("McpOAuthCallbackFunction", event)
    return response["statusCode"], response.get("body") or "", response.get("headers") or {}


def redirect_back(authorization_url: str) -> dict[str, str]:
    """The query the authorization server sends the browser back to the callback with."""
    url = authorization_url
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        for _ in range(10):
            answer = http.get(url)
            assert answer.is_redirect, (answer.status_code, answer.text)
            url = str(answer.next_request.url) if answer.next_request else answer.headers["location"]
            if urlsplit(url).path == CALLBACK_PATH:
                return dict(parse_qsl(urlsplit(url).query))
    raise AssertionError("the redirects never reached the callback")


@pytest.fixture
def sign_in() -> Callable[[str], Callback]:
    return lambda authorization_url: callback(redirect_back(authorization_url))


@pytest.fixture
def oauth_server() -> Iterator[OAuthMcpServer]:
    # Per test: its switches (deny, token_mode, revocations) are the test's own.
    with OAuthMcpServer() as server:
        yield server


@pytest.fixture
def connect_custom(api: Any) -> Callable[[str, str], tuple[int, Any]]:  # noqa: F811  # the fixture above
    def run(user: str, endpoint: str) -> tuple[int, Any]:
        status, body, _ = api(
            "McpConnectFunction", user, body={"server_type": "custom", "endpoint": endpoint}
        )
        return status, body

    return run

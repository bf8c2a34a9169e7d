"""Custom connections to the MCP TypeScript SDK's example server behind OAuth
(`tests/fakes/ts_oauth_server.py`).

A server and an authorization server written by others: discovery from the 401, dynamic client
registration, the authorization code with PKCE and the RFC 8707 resource (which `--oauth-strict`
enforces), the callback, then tools with the token. The demo issues no refresh token, so a token
past its expiry signs the connection out; and it keeps its tokens and clients in memory, so after a
restart only signing in again (with a client registered again) brings the connection back. It
answers a token it no longer knows with 500, not 401 (its introspection verifier throws a plain
Error), so a revoked token shows as `mcp_http_error` until the user signs in again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import DictRow

from auralink.db import tenant_transaction
from auralink.mcp.oauth.session import seal, unseal
from tests.fakes.ts_oauth_server import TypeScriptOAuthServer
from tests.integration.mcp.gateway.conftest import Api, api, gateway  # noqa: F401  # fixtures
from tests.integration.mcp.oauth.conftest import callback, redirect_back
from tests.support.handlers import sample_event

CALLBACK_URL = (
    f"https://{sample_event('McpOAuthCallbackFunction')['headers']['host']}/api/v1/mcp/oauth/callback"
)


@pytest.fixture(scope="module")
def ts_server() -> Iterator[TypeScriptOAuthServer]:
    with TypeScriptOAuthServer() as server:
        yield server


class Recorded:
    """`api` with every answer kept, to look for tokens in what the gateway ever said."""

    def __init__(self, call: Api) -> None:
        self._api = call
        self.bodies: list[str] = []

    def __call__(self, function_id: str, user: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        status, body, headers = self._api(function_id, user, **kwargs)
        self.bodies.append(json.dumps(body))
        self.bodies.append(json.dumps(headers))
        return status, body, headers

    def sign_in(self, authorization_url: str) -> dict[str, Any]:
        """The browser's part (open the address, follow the redirects to the callback) and the
        callback's response."""
        status, page, headers = callback(redirect_back(authorization_url))
        self.bodies += [page, json.dumps(headers)]
        return {"statusCode": status, "body": page, "headers": headers}


@pytest.fixture
def recorded(api: Api) -> Recorded:  # noqa: F811  # the imported fixture
    return Recorded(api)


def connect(recorded: Recorded, user: str, ts_server: TypeScriptOAuthServer) -> dict[str, Any]:
    status, body, _ = recorded(
        "McpConnectFunction", user, body={"server_type": "custom", "endpoint": ts_server.url}
    )
    assert status == 202, body
    return body


def connection_of(recorded: Recorded, user: str, connection_id: str) -> dict[str, Any]:
    status, body, _ = recorded("McpGetConnectionFunction", user, path={"connection_id": connection_id})
    assert status == 200, body
    return body


def greet(recorded: Recorded, user: str, connection_id: str) -> tuple[int, Any]:
    status, body, _ = recorded(
        "McpCallToolFunction",
        user,
        path={"connection_id": connection_id, "tool": "greet"},
        body={"arguments": {"name": "AuraLink"}},
    )
    return status, body


def assert_greeted(status: int, body: Any) -> None:
    assert status == 200, body
    assert "Hello, AuraLink!" in json.dumps(body), body


def test_connecting_answers_the_address_to_sign_in_at(recorded, make_user_id, ts_server):
    body = connect(recorded, make_user_id(), ts_server)

    assert body["status"] == "authorization_required"
    assert body["connection_id"] and body["expires_at"]
    address = urlsplit(body["authorization_url"])
    assert f"{address.scheme}://{address.netloc}{address.path}" == ts_server.issuer + "authorize"
    query = {name: values[0] for name, values in parse_qs(address.query).items()}
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"]
    assert query["resource"] == ts_server.url
    assert query["redirect_uri"] == CALLBACK_URL
    assert len(query["state"]) >= 43  # 256 bits, Base64url


def test_signing_in_connects_and_the_tools_work(recorded, make_user_id, ts_server, owner_conn):
    user = make_user_id()
    pending = connect(recorded, user, ts_server)
    connection_id = pending["connection_id"]

    response = recorded.sign_in(pending["authorization_url"])

    assert response["statusCode"] == 200, response["body"]
    assert connection_of(recorded, user, connection_id)["status"] == "connected"
    status, listed, _ = recorded("McpListToolsFunction", user, path={"connection_id": connection_id})
    assert status == 200, listed
    assert "greet" in {tool["name"] for tool in listed["tools"]}
    assert_greeted(*greet(recorded, user, connection_id))
    assert_no_token_shown(recorded, ts_server, owner_conn, user)


def signed_in(recorded: Recorded, user: str, ts_server: TypeScriptOAuthServer) -> str:
    """A connection to the server, signed in and used once: its id."""
    pending = connect(recorded, user, ts_server)
    assert recorded.sign_in(pending["authorization_url"])["statusCode"] == 200
    assert_greeted(*greet(recorded, user, pending["connection_id"]))
    return pending["connection_id"]


def sign_in_again(recorded: Recorded, user: str, connection_id: str) -> None:
    status, again, _ = recorded("McpAuthorizeConnectionFunction", user, path={"connection_id": connection_id})
    assert status == 200, again
    assert again["authorization_url"]
    response = recorded.sign_in(again["authorization_url"])
    assert response["statusCode"] == 200, response["body"]
    assert connection_of(recorded, user, connection_id)["status"] == "connected"
    assert_greeted(*greet(recorded, user, connection_id))


def test_signing_in_again_replaces_the_tokens(recorded, make_user_id, ts_server, owner_conn):
    user = make_user_id()
    connection_id = signed_in(recorded, user, ts_server)
    before = ts_server.access_tokens()

    sign_in_again(recorded, user, connection_id)

    assert ts_server.access_tokens() - before, "the call after the new sign-in used an earlier token"
    assert_no_token_shown(recorded, ts_server, owner_conn, user)


@pytest.fixture
def restartable_server() -> Iterator[TypeScriptOAuthServer]:
    # A server of the test's own: after a restart it knows none of the clients registered before,
    # and the gateway keeps the one it registered for every later connection to that issuer.
    with TypeScriptOAuthServer() as server:
        yield server


def test_a_token_past_its_expiry_without_a_refresh_token_asks_the_user_to_sign_in_again(
    recorded, make_user_id, ts_server, owner_conn
):
    user = make_user_id()
    connection_id = signed_in(recorded, user, ts_server)
    # The demo's tokens last an hour: move the stored expiry instead of waiting for it.
    with tenant_transaction(user) as conn:
        row = conn.execute(
            "SELECT oauth FROM user_mcp_connections WHERE id = %s", (connection_id,)
        ).fetchone()
        session = unseal(row["oauth"], user_id=user, connection_id=UUID(connection_id))
        expired = replace(session, expires_at=datetime.now(UTC) - timedelta(minutes=1))
        sealed = seal(expired, user_id=user, connection_id=UUID(connection_id))
        conn.execute("UPDATE user_mcp_connections SET oauth = %s WHERE id = %s", (sealed, connection_id))

    status, body = greet(recorded, user, connection_id)

    assert (status, body["error"]["code"]) == (409, "mcp_oauth_authorization_required"), body
    assert connection_of(recorded, user, connection_id)["status"] == "authorization_required"
    sign_in_again(recorded, user, connection_id)
    assert_no_token_shown(recorded, ts_server, owner_conn, user)


def test_after_a_restart_signing_in_again_reconnects(recorded, make_user_id, restartable_server, owner_conn):
    user = make_user_id()
    connection_id = signed_in(recorded, user, restartable_server)

    restartable_server.restart()

    try:
        sign_in_again(recorded, user, connection_id)
    finally:
        assert_no_token_shown(recorded, restartable_server, owner_conn, user)


def assert_no_token_shown(
    recorded: Recorded,
    ts_server: TypeScriptOAuthServer,
    owner_conn: psycopg.Connection[DictRow],
    user: str,
) -> None:
    tokens = ts_server.access_tokens()
    assert tokens, "the server logged no authenticated request"
    rows = owner_conn.execute("SELECT * FROM mcp_operation_logs WHERE user_id = %s", (user,)).fetchall()
    assert rows
    said = "\n".join([*recorded.bodies, *(repr(row) for row in rows)])
    assert not [token for token in tokens if token in said]

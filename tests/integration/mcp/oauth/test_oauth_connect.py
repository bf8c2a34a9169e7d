"""Connecting a server behind OAuth: 202 with an address to open, the sign-in, then a connection
like any other; tokens refreshed before they expire and after a 401; a revoked grant."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.mcp_oauth import SCOPE, OAuthMcpServer
from tests.fakes.mcp_servers import PROTECTED_TOKEN
from tests.support.handlers import request


def _connected(connect_custom: Any, sign_in: Any, user: str, url: str) -> str:
    status, body = connect_custom(user, url)
    assert status == 202, body
    page_status, page, _ = sign_in(body["authorization_url"])
    assert page_status == 200, page
    return str(body["connection_id"])


def _echo(api: Any, user: str, connection_id: str, text: str = "hi") -> tuple[int, Any]:
    status, body, _ = api(
        "McpCallToolFunction",
        user,
        path={"connection_id": connection_id, "tool": "echo"},
        body={"arguments": {"text": text}},
    )
    return status, body


def test_connect_answers_202_and_the_sign_in_makes_a_working_connection(
    api, connect_custom, sign_in, oauth_server, make_user_id
):
    user = make_user_id()
    status, body = connect_custom(user, oauth_server.url)

    assert status == 202, body
    assert body["status"] == "authorization_required"
    query = dict(parse_qsl(urlsplit(body["authorization_url"]).query))
    assert body["authorization_url"].startswith(oauth_server.origin + "/authorize?")
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["resource"] == oauth_server.url
    assert set(query["scope"].split()) == {SCOPE, "offline_access"}
    assert len(query["state"]) >= 43
    assert query["redirect_uri"].endswith("/api/v1/mcp/oauth/callback")
    assert oauth_server.registrations == 1
    connection_id = body["connection_id"]

    # Before the sign-in: listed as waiting, and no call reaches the server.
    status, shown, _ = api("McpGetConnectionFunction", user, path={"connection_id": connection_id})
    assert (status, shown["status"], shown["tool_count"]) == (200, "authorization_required", 0)
    status, refused = _echo(api, user, connection_id)
    assert (status, refused["error"]["code"]) == (409, "mcp_oauth_authorization_required")

    page_status, page, headers = sign_in(body["authorization_url"])
    assert page_status == 200, page
    assert "The connection is ready" in page
    assert headers["Cache-Control"] == "no-store"

    status, shown, _ = api("McpGetConnectionFunction", user, path={"connection_id": connection_id})
    assert (status, shown["status"]) == (200, "connected")
    assert "echo" in shown["capabilities"]
    status, result = _echo(api, user, connection_id, "through oauth")
    assert status == 200, result
    assert result["result"]["content"][0]["text"] == "through oauth"


def test_the_registered_client_is_reused_by_every_user(connect_custom, oauth_server, make_user_id):
    for _ in range(3):
        status, body = connect_custom(make_user_id(), oauth_server.url)
        assert status == 202, body
    assert oauth_server.registrations == 1
    assert len({a["client_id"] for a in oauth_server.authorizations}) <= 1


def test_a_token_about_to_expire_is_refreshed_before_the_call(
    api, connect_custom, sign_in, oauth_server, make_user_id, owner_conn
):
    oauth_server.access_ttl_s = 30  # inside the minute before expiry in which tokens are refreshed
    user = make_user_id()
    connection_id = _connected(connect_custom, sign_in, user, oauth_server.url)
    refreshes = oauth_server.refreshes

    status, result = _echo(api, user, connection_id)

    assert status == 200, result
    assert oauth_server.refreshes == refreshes + 1
    operations = [
        (row["operation"], row["status"])
        for row in owner_conn.execute(
            "SELECT operation, status FROM mcp_operation_logs WHERE user_id = %s ORDER BY created_at", (user,)
        )
    ]
    assert operations[-2:] == [("oauth_refresh", "success"), ("call_tool", "success")]


def test_a_token_the_server_refuses_is_refreshed_once_and_the_call_retried(
    api, connect_custom, sign_in, oauth_server, make_user_id, owner_conn
):
    user = make_user_id()
    connection_id = _connected(connect_custom, sign_in, user, oauth_server.url)
    oauth_server.expire_access_tokens()

    status, result = _echo(api, user, connection_id, "again")

    assert status == 200, result
    assert result["result"]["content"][0]["text"] == "again"
    rows = owner_conn.execute(
        "SELECT operation, status, error_code FROM mcp_operation_logs"
        " WHERE user_id = %s AND operation IN ('call_tool', 'oauth_refresh') ORDER BY created_at",
        (user,),
    ).fetchall()
    assert [(r["operation"], r["status"], r["error_code"]) for r in rows] == [
        ("call_tool", "error", "mcp_auth_failed"),
        ("oauth_refresh", "success", None),
        ("call_tool", "success", None),
    ]


def test_a_revoked_grant_asks_the_user_to_sign_in_again(
    api, connect_custom, sign_in, oauth_server, make_user_id
):
    user = make_user_id()
    connection_id = _connected(connect_custom, sign_in, user, oauth_server.url)
    oauth_server.revoke_all()

    status, refused = _echo(api, user, connection_id)

    assert (status, refused["error"]["code"]) == (409, "mcp_oauth_authorization_required")
    status, shown, _ = api("McpGetConnectionFunction", user, path={"connection_id": connection_id})
    assert (shown["status"], shown["last_error_code"]) == (
        "authorization_required",
        "mcp_oauth_grant_refused",
    )
    # Later calls are refused without asking the server again.
    refreshes = oauth_server.refreshes
    assert _echo(api, user, connection_id)[0] == 409
    assert oauth_server.refreshes == refreshes

    status, again, _ = api("McpAuthorizeConnectionFunction", user, path={"connection_id": connection_id})
    assert (status, again["status"], again["connection_id"]) == (200, "authorization_required", connection_id)
    page_status, page, _ = sign_in(again["authorization_url"])
    assert page_status == 200, page
    assert _echo(api, user, connection_id)[0] == 200


def test_a_connection_with_its_own_token_has_no_sign_in_to_renew(api, make_user_id, protected_mcp):
    user = make_user_id()
    status, body, _ = api(
        "McpConnectFunction",
        user,
        body={
            "server_type": "custom",
            "endpoint": protected_mcp.url,
            "credentials": {"token": PROTECTED_TOKEN},
        },
    )
    assert status == 201, body
    status, refused, _ = api(
        "McpAuthorizeConnectionFunction", user, path={"connection_id": body["connection_id"]}
    )
    assert (status, refused["error"]["code"]) == (409, "mcp_oauth_not_applicable")


def test_a_plain_401_without_oauth_metadata_stays_a_credentials_error(api, make_user_id, protected_mcp):
    status, body, _ = api(
        "McpConnectFunction", make_user_id(), body={"server_type": "custom", "endpoint": protected_mcp.url}
    )
    assert (status, body["error"]["code"]) == (502, "mcp_auth_failed")


def test_a_server_that_takes_client_metadata_documents_needs_no_registration(
    api, connect_custom, sign_in, make_user_id
):
    def fetch(url: str) -> dict[str, Any]:
        # The authorization server reading the document, served by the product's open route.
        status, document, headers = request("McpOAuthClientMetadataFunction", None)
        assert status == 200, document
        assert headers["Cache-Control"].startswith("public")
        assert document["client_id"] == url
        return document

    user = make_user_id()
    with OAuthMcpServer(fetch_client_metadata=fetch) as server:
        status, body = connect_custom(user, server.url)
        assert status == 202, body
        query = dict(parse_qsl(urlsplit(body["authorization_url"]).query))
        assert query["client_id"].endswith("/api/v1/mcp/oauth/client-metadata.json")
        assert query["client_id"].startswith("https://")
        assert server.registrations == 0

        page_status, page, _ = sign_in(body["authorization_url"])
        assert page_status == 200, page
        assert _echo(api, user, str(body["connection_id"]), "no registration")[0] == 200


def test_agents_are_told_to_have_the_user_sign_in_then_reach_the_tools(
    api, connect_custom, sign_in, oauth_server, make_user_id
):
    user = make_user_id()
    status, body = connect_custom(user, oauth_server.url)
    assert status == 202, body
    call = {"tool": f"mcp:{body['name']}/echo", "arguments": {"text": "from an agent"}}

    status, before, _ = api("AgentsCallToolFunction", user, body=call)
    assert status == 200, before
    assert (before["is_error"], before["error_code"]) == (True, "mcp_oauth_authorization_required")

    assert sign_in(body["authorization_url"])[0] == 200
    status, after, _ = api("AgentsCallToolFunction", user, body=call)
    assert status == 200, after
    assert (after["is_error"], after["text"]) == (False, "from an agent")

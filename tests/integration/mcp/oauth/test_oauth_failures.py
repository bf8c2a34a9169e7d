"""What goes wrong in a sign-in: the state (unknown, replayed, expired, another user's), denied
consent, a token endpoint that fails, metadata that points where the service must not go. Each
answer has its code, and the connection is left where the user can start again."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from auralink.db import system_transaction, tenant_transaction
from auralink.mcp.oauth import store as oauth_store
from auralink.mcp.oauth.urls import CALLBACK_PATH
from auralink.mcp.probe import OAUTH_STATES_KEPT_S
from tests.fakes.mcp_oauth import SCOPE, OAuthMcpServer
from tests.integration.mcp.gateway.conftest import write_config
from tests.integration.mcp.oauth.conftest import callback, redirect_back
from tests.support import environment
from tests.support.handlers import http_event


def _pending(connect_custom: Any, user: str, server: OAuthMcpServer) -> dict[str, Any]:
    status, body = connect_custom(user, server.url)
    assert status == 202, body
    return body


def _connection(api: Any, user: str, connection_id: str) -> dict[str, Any]:
    status, body, _ = api("McpGetConnectionFunction", user, path={"connection_id": connection_id})
    assert status == 200, body
    return body


def _signs_in_again(api: Any, sign_in: Any, user: str, connection_id: str) -> None:
    status, again, _ = api("McpAuthorizeConnectionFunction", user, path={"connection_id": connection_id})
    assert status == 200, again
    page_status, page, _ = sign_in(again["authorization_url"])
    assert page_status == 200, page
    assert _connection(api, user, connection_id)["status"] == "connected"


def test_a_state_that_was_never_issued_or_is_missing_is_refused(gateway):
    status, page, _ = callback({"code": "abc", "state": "not-a-state-we-issued"})
    assert status == 400
    assert "mcp_oauth_state_invalid" in page
    status, page, _ = callback({"code": "abc"})
    assert (status, "mcp_oauth_callback_invalid" in page) == (400, True)


def test_a_replayed_state_is_refused(connect_custom, oauth_server, make_user_id):
    pending = _pending(connect_custom, make_user_id(), oauth_server)
    query = redirect_back(pending["authorization_url"])
    assert callback(query)[0] == 200

    status, page, _ = callback(query)

    assert status == 400
    assert "mcp_oauth_state_used" in page


def test_an_expired_state_is_refused_and_the_user_can_start_again(
    api, connect_custom, sign_in, oauth_server, make_user_id
):
    user = make_user_id()
    pending = _pending(connect_custom, user, oauth_server)
    query = redirect_back(pending["authorization_url"])
    with tenant_transaction(user) as conn:
        conn.execute(
            "UPDATE mcp_oauth_states SET expires_at = now() - interval '1 second' WHERE connection_id = %s",
            (pending["connection_id"],),
        )

    status, page, _ = callback(query)

    assert status == 400
    assert "mcp_oauth_state_expired" in page
    assert _connection(api, user, pending["connection_id"])["status"] == "authorization_required"
    _signs_in_again(api, sign_in, user, pending["connection_id"])


def test_a_state_binds_its_own_user_and_connection_only(api, connect_custom, oauth_server, make_user_id):
    alice, bob = make_user_id(), make_user_id()
    alices = _pending(connect_custom, alice, oauth_server)
    bobs = _pending(connect_custom, bob, oauth_server)

    assert callback(redirect_back(alices["authorization_url"]))[0] == 200

    assert _connection(api, alice, alices["connection_id"])["status"] == "connected"
    assert _connection(api, bob, bobs["connection_id"])["status"] == "authorization_required"
    # Bob can neither see Alice's connection nor start a sign-in on it.
    status, body, _ = api(
        "McpAuthorizeConnectionFunction", bob, path={"connection_id": alices["connection_id"]}
    )
    assert (status, body["error"]["code"]) == (404, "connection_not_found")
    # The states are rows of their user: another user's transaction does not see them.
    with tenant_transaction(bob) as conn:
        seen = {str(r["connection_id"]) for r in conn.execute("SELECT connection_id FROM mcp_oauth_states")}
    assert seen == {bobs["connection_id"]}


def test_denied_consent_leaves_the_connection_waiting_for_a_sign_in(
    api, connect_custom, sign_in, oauth_server, make_user_id
):
    user = make_user_id()
    pending = _pending(connect_custom, user, oauth_server)
    oauth_server.deny = True

    status, page, _ = sign_in(pending["authorization_url"])

    assert status == 400
    assert "mcp_oauth_denied" in page
    shown = _connection(api, user, pending["connection_id"])
    assert (shown["status"], shown["last_error_code"]) == ("authorization_required", "mcp_oauth_denied")
    oauth_server.deny = False
    _signs_in_again(api, sign_in, user, pending["connection_id"])


@pytest.mark.parametrize(
    ("mode", "code"),
    [("garbage", "mcp_oauth_token_response_invalid"), ("down", "mcp_oauth_token_endpoint_failed")],
)
def test_a_failing_token_endpoint_is_a_502_and_the_user_can_retry(
    api, connect_custom, sign_in, oauth_server, make_user_id, mode, code
):
    user = make_user_id()
    pending = _pending(connect_custom, user, oauth_server)
    oauth_server.token_mode = mode

    status, page, _ = sign_in(pending["authorization_url"])

    assert status == 502
    assert code in page
    shown = _connection(api, user, pending["connection_id"])
    assert (shown["status"], shown["last_error_code"]) == ("authorization_required", code)
    oauth_server.token_mode = "ok"
    _signs_in_again(api, sign_in, user, pending["connection_id"])


def test_an_authorization_server_on_a_private_address_is_refused(connect_custom, oauth_server, make_user_id):
    oauth_server.authorization_server = "https://10.1.2.3/"

    status, body = connect_custom(make_user_id(), oauth_server.url)

    assert (status, body["error"]["code"]) == (502, "mcp_oauth_endpoint_not_allowed")
    assert body["error"]["details"] == {"reason": "address"}


def _redirect_uri() -> str:
    return "https://" + http_event("McpConnectFunction")["headers"]["host"] + CALLBACK_PATH


def _registry_server(gateway: pytest.MonkeyPatch, tmp_path: Any, server: OAuthMcpServer, auth: str) -> None:
    config = write_config(tmp_path / "oauth-config.yaml", deepwiki_endpoint=server.url, deepwiki_auth=auth)
    gateway.setenv("MCP_CONFIG_PATH", str(config))
    environment.forget_caches()


def test_a_registry_server_declared_behind_oauth_uses_the_operators_client(
    api, gateway, tmp_path, sign_in, oauth_server, make_user_id
):
    oauth_server.register_client("operator-client", "operator-secret-0123456789", _redirect_uri())
    _registry_server(
        gateway,
        tmp_path,
        oauth_server,
        "{kind: oauth, oauth: {client_id: operator-client, client_secret: operator-secret-0123456789,"
        f" scopes: ['{SCOPE}']}}}}",
    )
    user = make_user_id()

    status, body, _ = api("McpConnectFunction", user, body={"server_type": "deepwiki"})

    assert status == 202, body
    # Declared behind OAuth: nothing is asked of the MCP server before the user has signed in.
    assert [entry for entry in oauth_server.server.log.requests if entry.path.startswith("/mcp")] == []
    assert oauth_server.registrations == 0
    query = dict(parse_qsl(urlsplit(body["authorization_url"]).query))
    assert (query["client_id"], query["scope"]) == ("operator-client", SCOPE)
    page_status, page, _ = sign_in(body["authorization_url"])
    assert page_status == 200, page
    status, result, _ = api(
        "McpCallToolFunction",
        user,
        path={"connection_id": body["connection_id"], "tool": "echo"},
        body={"arguments": {"text": "registry"}},
    )
    assert status == 200, result


def test_in_production_mode_discovery_on_a_private_address_is_refused(
    api, gateway, tmp_path, oauth_server, make_user_id
):
    # The operator's endpoint is trusted; what its metadata points to is not.
    _registry_server(gateway, tmp_path, oauth_server, "{kind: oauth}")
    gateway.setenv("ALLOW_LOOPBACK_ENDPOINTS", "false")
    environment.forget_caches()

    status, body, _ = api("McpConnectFunction", make_user_id(), body={"server_type": "deepwiki"})

    assert (status, body["error"]["code"]) == (502, "mcp_oauth_endpoint_not_allowed")
    assert oauth_server.registrations == 0


def test_tokens_codes_and_secrets_never_leave_the_service(
    api, connect_custom, oauth_server, make_user_id, owner_conn, capsys
):
    oauth_server.access_ttl_s = 30  # a refresh at the first call
    user = make_user_id()
    pending = _pending(connect_custom, user, oauth_server)
    query = redirect_back(pending["authorization_url"])
    status, page, headers = callback(query)
    assert status == 200, page
    answers = [str(pending), page, str(headers)]
    for function_id in ("McpGetConnectionFunction", "McpListToolsFunction"):
        answers.append(str(api(function_id, user, path={"connection_id": pending["connection_id"]})))
    answers.append(
        str(
            api(
                "McpCallToolFunction",
                user,
                path={"connection_id": pending["connection_id"], "tool": "echo"},
                body={"arguments": {"text": "x"}},
            )
        )
    )
    assert oauth_server.refreshes >= 1
    logged = [
        str(row) for row in owner_conn.execute("SELECT * FROM mcp_operation_logs WHERE user_id = %s", (user,))
    ]
    stored = owner_conn.execute(
        "SELECT oauth FROM user_mcp_connections WHERE id = %s", (pending["connection_id"],)
    ).fetchone()
    secrets = [*oauth_server.issued, query["code"]]
    output = capsys.readouterr()
    for text in [*answers, *logged, str(stored), output.out, output.err]:
        for secret in secrets:
            assert secret not in text


def test_states_a_day_past_their_expiry_are_removed_for_every_user(
    connect_custom, oauth_server, make_user_id
):
    old_user, new_user = make_user_id(), make_user_id()
    old = _pending(connect_custom, old_user, oauth_server)
    new = _pending(connect_custom, new_user, oauth_server)
    with tenant_transaction(old_user) as conn:
        conn.execute(
            "UPDATE mcp_oauth_states SET expires_at = now() - interval '25 hours' WHERE connection_id = %s",
            (old["connection_id"],),
        )

    with system_transaction() as conn:
        removed = oauth_store.delete_expired_states(conn, older_than_s=OAUTH_STATES_KEPT_S)

    assert removed >= 1
    for user, pending, kept in ((old_user, old, False), (new_user, new, True)):
        with tenant_transaction(user) as conn:
            rows = conn.execute(
                "SELECT 1 FROM mcp_oauth_states WHERE connection_id = %s", (pending["connection_id"],)
            ).fetchall()
        assert bool(rows) is kept


def test_with_a_return_url_the_browser_goes_back_to_the_application(
    api, gateway, connect_custom, sign_in, oauth_server, make_user_id
):
    gateway.setenv("MCP_OAUTH_RETURN_URL", "https://app.example.com/mcp/connected?from=auralink")
    environment.forget_caches()
    user = make_user_id()
    pending = _pending(connect_custom, user, oauth_server)
    oauth_server.deny = True
    status, _, headers = sign_in(pending["authorization_url"])
    assert status == 303
    assert headers["Location"] == (
        "https://app.example.com/mcp/connected?from=auralink&status=error&error=mcp_oauth_denied"
    )

    oauth_server.deny = False
    status, again, _ = api(
        "McpAuthorizeConnectionFunction", user, path={"connection_id": pending["connection_id"]}
    )
    status, _, headers = sign_in(again["authorization_url"])

    assert status == 303
    assert headers["Location"] == (
        "https://app.example.com/mcp/connected?from=auralink&status=connected"
        f"&connection_id={pending['connection_id']}"
    )

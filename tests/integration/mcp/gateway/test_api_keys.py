"""`credentials.api_key`: sent the way the server's auth settings say, validated, never shown.

DeepWiki and Supabase are servers on loopback that publish the same tools; each test's
mcp-config names them with the auth settings under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.mcp_servers import DEEPWIKI_TOOLS, LoopbackServer, deepwiki_app, require_header
from tests.support.environment import forget_caches

KEY = "dw-key-0123456789abcdef"  # what the fake DeepWiki expects
HEADER_KEY = "sb-key-fedcba9876543210"  # what the fake behind X-Api-Key expects


@pytest.fixture(scope="module")
def deepwiki() -> Iterator[LoopbackServer]:
    with LoopbackServer(deepwiki_app(), name="deepwiki-keys") as server:
        yield server


@pytest.fixture(scope="module")
def header_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(
        require_header(deepwiki_app(), "X-Api-Key", HEADER_KEY), name="header-keys"
    ) as server:
        yield server


@pytest.fixture
def configure(gateway: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """Write an mcp-config whose deepwiki and supabase servers have the given auth settings."""

    def write(
        *, deepwiki: LoopbackServer, deepwiki_auth: str, supabase: LoopbackServer, supabase_auth: str
    ) -> None:
        config = tmp_path / "keys.yaml"
        config.write_text(
            f"""
version: 1
servers:
  deepwiki: {{display_name: DeepWiki, endpoint: "{deepwiki.url}", auth: {deepwiki_auth}}}
  memory: {{display_name: Memory, hosted: true, path: /mcp/memory}}
  sequential-thinking: {{display_name: Sequential Thinking, hosted: true, path: /mcp/sequential-thinking}}
  supabase: {{display_name: Supabase, endpoint: "{supabase.url}", auth: {supabase_auth}}}
"""
        )
        gateway.setenv("MCP_CONFIG_PATH", str(config))
        forget_caches()

    return write


@pytest.fixture
def bearer_deepwiki(configure, deepwiki, header_server) -> LoopbackServer:
    configure(
        deepwiki=deepwiki,
        deepwiki_auth="{kind: bearer, required: false}",
        supabase=header_server,
        supabase_auth="{kind: header, header_name: X-Api-Key}",
    )
    return deepwiki


def connect(api, user: str, body: dict[str, Any]) -> tuple[int, Any]:
    status, answer, _ = api("McpConnectFunction", user, body=body)
    return status, answer


def authorizations(server: LoopbackServer, since: int) -> set[str | None]:
    return {seen.headers.get("authorization") for seen in server.log.requests[since:]}


def test_an_api_key_goes_as_a_bearer_token_and_the_answer_names_the_server_and_its_tools(
    api, make_user_id, bearer_deepwiki, capsys
):
    user = make_user_id()
    before = len(bearer_deepwiki.log.requests)

    status, body = connect(api, user, {"server_type": "deepwiki", "credentials": {"api_key": KEY}})

    assert status == 201, body
    assert body["status"] == "connected" and body["server_type"] == "deepwiki"
    assert body["server_name"] == "DeepWiki"
    assert body["capabilities"] == list(DEEPWIKI_TOOLS)
    assert "tools" in body["server_capabilities"]
    assert body["has_credentials"] is True
    assert authorizations(bearer_deepwiki, before) == {f"Bearer {KEY}"}
    _, read, _ = api("McpGetConnectionFunction", user, path={"connection_id": body["connection_id"]})
    _, listed, _ = api("McpListConnectionsFunction", user)
    assert listed["connections"] == [read]
    assert {key: read[key] for key in ("server_name", "capabilities", "server_capabilities")} == {
        key: body[key] for key in ("server_name", "capabilities", "server_capabilities")
    }
    assert KEY not in str(body) + str(read) + str(listed)
    assert KEY not in capsys.readouterr().out


def test_the_stored_key_reaches_the_server_on_every_call_and_is_stored_encrypted(
    api, make_user_id, bearer_deepwiki, owner_conn
):
    user = make_user_id()
    _, connection = connect(api, user, {"server_type": "deepwiki", "credentials": {"api_key": KEY}})
    before = len(bearer_deepwiki.log.requests)

    status, asked, _ = api(
        "McpDeepWikiAskFunction",
        user,
        body={
            "connection_id": connection["connection_id"],
            "repo_name": "facebook/react",
            "question": "Hooks?",
        },
    )

    assert status == 200, asked
    assert (asked["repo_name"], asked["question"]) == ("facebook/react", "Hooks?")
    assert asked["answer"] == "About facebook/react: Hooks? -> it is documented."
    assert authorizations(bearer_deepwiki, before) == {f"Bearer {KEY}"}
    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (user,))
        row = owner_conn.execute("SELECT credentials FROM user_mcp_connections").fetchone()
    assert row["credentials"].startswith("v1.") and KEY not in row["credentials"]


def test_a_server_whose_key_is_optional_connects_without_one(api, make_user_id, bearer_deepwiki):
    before = len(bearer_deepwiki.log.requests)

    status, body = connect(api, make_user_id(), {"server_type": "deepwiki"})

    assert status == 201, body
    assert body["has_credentials"] is False
    assert authorizations(bearer_deepwiki, before) == {None}


def test_the_deployments_key_is_sent_when_a_connection_brings_none(
    api, make_user_id, configure, deepwiki, header_server, gateway
):
    gateway.setenv("DEEPWIKI_TEST_KEY", "deployment-key-0123456789")
    configure(
        deepwiki=deepwiki,
        deepwiki_auth="{kind: bearer, required: false, api_key: '${DEEPWIKI_TEST_KEY}'}",
        supabase=header_server,
        supabase_auth="{kind: header, header_name: X-Api-Key}",
    )
    before = len(deepwiki.log.requests)

    assert connect(api, make_user_id(), {"server_type": "deepwiki"})[0] == 201
    assert authorizations(deepwiki, before) == {"Bearer deployment-key-0123456789"}


def test_an_api_key_goes_in_the_header_the_server_names(api, make_user_id, bearer_deepwiki, header_server):
    before = len(header_server.log.requests)

    refused, _ = connect(
        api, make_user_id(), {"server_type": "supabase", "credentials": {"token": HEADER_KEY}}
    )
    status, body = connect(
        api, make_user_id(), {"server_type": "supabase", "credentials": {"api_key": HEADER_KEY}}
    )

    assert refused == 502  # a token is a bearer token: this server wants its header
    assert status == 201, body
    assert body["server_name"] == "Supabase" and body["capabilities"] == list(DEEPWIKI_TOOLS)
    accepted = [seen for seen in header_server.log.requests[before:] if seen.headers.get("x-api-key")]
    assert accepted and all(seen.headers["x-api-key"] == HEADER_KEY for seen in accepted)
    assert all("authorization" not in seen.headers for seen in accepted)


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"server_type": "deepwiki", "credentials": {"api_key": KEY, "token": KEY}},
            422,
            "validation_failed",
            "body.credentials.api_key",
        ),
        (
            {
                "server_type": "deepwiki",
                "credentials": {"token": KEY, "headers": {"Authorization": "Bearer x"}},
            },
            422,
            "validation_failed",
            "body.credentials.headers",
        ),
        (
            {"server_type": "deepwiki", "credentials": {"api_key": KEY, "headers": {"authorization": "x"}}},
            422,
            "credentials_conflict",
            "body.credentials.headers",
        ),
        (
            {"server_type": "supabase", "credentials": {"api_key": KEY, "headers": {"X-API-KEY": "x"}}},
            422,
            "credentials_conflict",
            "body.credentials.headers",
        ),
        (
            {"server_type": "custom", "endpoint": "http://127.0.0.1:9/mcp", "credentials": {"api_key": KEY}},
            422,
            "api_key_not_supported",
            "body.credentials.api_key",
        ),
        (
            {"server_type": "memory", "credentials": {"api_key": KEY}},
            422,
            "credentials_not_accepted",
            "body.credentials",
        ),
        ({"server_type": "supabase"}, 422, "credentials_required", "body.credentials.api_key"),
        (
            {"server_type": "deepwiki", "credentials": {"api_key": ""}},
            422,
            "validation_failed",
            "body.credentials.api_key",
        ),
    ],
)
def test_combinations_that_cannot_be_used_are_refused_naming_the_field(
    api, make_user_id, bearer_deepwiki, body, status, code, field
):
    answer_status, answer = connect(api, make_user_id(), body)

    assert (answer_status, answer["error"]["code"]) == (status, code)
    assert field in {detail["field"] for detail in answer["error"]["details"]}
    assert KEY not in str(answer)


def test_a_server_that_takes_no_key_refuses_one(api, make_user_id, configure, deepwiki, header_server):
    configure(
        deepwiki=deepwiki,
        deepwiki_auth="{kind: none}",
        supabase=header_server,
        supabase_auth="{kind: header, header_name: X-Api-Key}",
    )

    status, answer = connect(
        api, make_user_id(), {"server_type": "deepwiki", "credentials": {"api_key": KEY}}
    )

    assert (status, answer["error"]["code"]) == (422, "credentials_not_accepted")
    assert answer["error"]["details"][0]["field"] == "body.credentials.api_key"

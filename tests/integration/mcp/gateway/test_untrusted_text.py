"""A server's texts cannot spend the service's CPU or make it fetch anything: hostile input
schemas (a catastrophic pattern, a lookahead, a remote $ref) and megabytes of error text.

Each attack would hang the call (minutes to hours on Python's backtracking `re`) or reach a URL
the server chose; the tests assert the answers, which come back at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.mcp_servers import LoopbackServer, canned_app
from tests.fakes.untrusted_text_server import CATASTROPHIC_PATTERN, untrusted_text_app

# Python's `re` needs about 2**n steps for ^(a+)+$ against n a's and a "!": 100 000 is forever.
CATASTROPHIC_TEXT = "a" * 100_000 + "!"


@pytest.fixture(scope="module")
def schema_host() -> Iterator[LoopbackServer]:
    """Where the remote $ref points: it records every request, so a fetch would show."""
    with LoopbackServer(canned_app(), name="schema-host") as server:
        yield server


@pytest.fixture(scope="module")
def untrusted(schema_host) -> Iterator[LoopbackServer]:
    app = untrusted_text_app(remote_schema_url=schema_host.url_for("/schemas/text.json"))
    with LoopbackServer(app, name="untrusted-text") as server:
        yield server


@pytest.fixture
def connection(api, make_user_id, untrusted):
    user = make_user_id()
    status, body, _ = api(
        "McpConnectFunction", user, body={"server_type": "custom", "endpoint": untrusted.url}
    )
    assert status == 201, body
    return user, body["connection_id"]


def call(api, connection, tool, arguments):
    user, connection_id = connection
    return api(
        "McpCallToolFunction",
        user,
        path={"connection_id": connection_id, "tool": tool},
        body={"arguments": arguments},
    )


def calls_sent(server: LoopbackServer) -> int:
    return sum(1 for request in server.log.requests if request.rpc_method == "tools/call")


def test_hostile_schemas_are_stored_as_the_server_published_them(api, connection):
    user, connection_id = connection

    status, listed, _ = api("McpListToolsFunction", user, path={"connection_id": connection_id})

    assert status == 200
    schemas = {tool["name"]: tool["input_schema"] for tool in listed["tools"]}
    assert schemas["match"]["properties"]["text"]["pattern"] == CATASTROPHIC_PATTERN
    assert schemas["remote_ref"]["properties"]["text"]["$ref"].endswith("/schemas/text.json")


def test_a_catastrophic_pattern_runs_in_linear_time(api, connection, untrusted):
    before = calls_sent(untrusted)

    status, body, _ = call(api, connection, "match", {"text": CATASTROPHIC_TEXT})
    matched = call(api, connection, "match", {"text": "aaaa"})

    assert (status, body["error"]["code"]) == (422, "invalid_tool_arguments")
    assert body["error"]["details"][0]["field"] == "arguments.text"
    assert CATASTROPHIC_TEXT not in body["error"]["message"]
    assert matched[0] == 200 and matched[1]["result"]["content"][0]["text"] == "accepted"
    assert calls_sent(untrusted) == before + 1  # only the matching call was sent


def test_a_catastrophic_pattern_property_runs_in_linear_time(api, connection, untrusted):
    before = calls_sent(untrusted)

    status, body, _ = call(api, connection, "keyed", {CATASTROPHIC_TEXT: "x"})

    assert (status, body["error"]["code"]) == (422, "invalid_tool_arguments")
    assert body["error"]["details"][0]["type"] == "additionalProperties"
    assert calls_sent(untrusted) == before


def test_a_pattern_no_linear_time_engine_runs_is_refused(api, connection, untrusted):
    before = calls_sent(untrusted)

    status, body, _ = call(api, connection, "lookahead", {"text": "abc1"})

    assert (status, body["error"]["code"]) == (422, "unsupported_schema")
    assert body["error"]["details"][0]["field"] == "input_schema.properties.text.pattern"
    assert "lookarounds" in body["error"]["details"][0]["message"]
    assert calls_sent(untrusted) == before


def test_a_remote_ref_in_a_servers_schema_is_refused_and_never_fetched(
    api, connection, untrusted, schema_host
):
    before = calls_sent(untrusted)

    status, body, _ = call(api, connection, "remote_ref", {"text": "hi"})

    assert (status, body["error"]["code"]) == (422, "unsupported_schema")
    assert body["error"]["details"][0]["field"] == "input_schema.properties.text.$ref"
    assert "points outside the schema" in body["error"]["message"]
    assert schema_host.log.requests == []
    assert calls_sent(untrusted) == before


def test_megabytes_of_error_text_are_cut_before_any_pattern_reads_them(api, connection, owner_conn):
    user, _ = connection

    wordy_status, wordy, _ = call(api, connection, "wordy", {})
    vanished_status, vanished, _ = call(api, connection, "vanished", {})

    assert (wordy_status, wordy["error"]["code"]) == (502, "mcp_server_error")
    assert (vanished_status, vanished["error"]["code"]) == (502, "mcp_tool_not_found")
    assert len(str(wordy)) < 2000 and len(str(vanished)) < 2000
    stored = owner_conn.execute(
        "SELECT max(length(coalesce(error_message, ''))) AS longest FROM mcp_operation_logs"
        " WHERE user_id = %s",
        (user,),
    ).fetchone()
    assert stored["longest"] < 2000

"""How the federated endpoint names the tools of a user's connections (no I/O)."""

from __future__ import annotations

import uuid
from typing import Any

from auralink.mcp.federation import federate
from auralink.mcp.tools import ConnectionTools

API = "https://api.example.com"


def connection(name: str, *tools: str, endpoint: str | None = None) -> ConnectionTools:
    documents: list[dict[str, Any]] = [{"name": tool, "input_schema": {"type": "object"}} for tool in tools]
    return ConnectionTools(uuid.uuid4(), name, endpoint, documents)


def names(*connections: ConnectionTools) -> list[str]:
    return [tool.name for tool in federate(list(connections), API)]


def test_each_tool_is_named_after_its_connection_and_maps_back_to_it():
    calc = connection("calc", "add", "echo")

    (add, echo) = federate([calc], API)

    assert (add.name, add.tool, add.connection_id) == ("calc__add", "add", calc.connection_id)
    assert echo.name == "calc__echo"


def test_names_outside_mcps_alphabet_or_too_long_are_left_out():
    long_tool = "t" * (128 - len("calc__"))

    assert names(connection("calc", "ok.tool-1", "has space", "é", "", long_tool, long_tool + "x")) == [
        "calc__ok.tool-1",
        f"calc__{long_tool}",
    ]


def test_a_name_published_once_is_not_published_again():
    # "a__b" + "c" and "a" + "b__c" would both be "a__b__c": the older connection keeps it.
    assert names(connection("a__b", "c"), connection("a", "b__c", "d")) == ["a__b__c", "a__d"]


def test_the_description_starts_with_the_connections_name():
    (described, bare) = federate(
        [
            ConnectionTools(
                uuid.uuid4(), "wiki", None, [{"name": "ask", "description": "Ask a question"}, {"name": "x"}]
            )
        ],
        API,
    )

    assert described.description == "wiki: Ask a question"
    assert bare.description == "wiki"


def test_a_connection_to_the_endpoint_itself_is_left_out():
    assert names(connection("loop", "echo", endpoint=f"{API}/mcp/gateway/"), connection("calc", "add")) == [
        "calc__add"
    ]

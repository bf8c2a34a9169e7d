"""The hosted Memory server's tools, with the reference server's semantics, per user under RLS.

Each test connects with the official SDK client to the template's function, in process; the
client speaks both protocol revisions (`mode`).
"""

from __future__ import annotations

import json

import pytest
from mcp.shared.exceptions import MCPError
from psycopg.conninfo import make_conninfo

from auralink.mcp.hosted import memory as memory_server
from auralink.mcp.hosted import memory_repository
from tests.integration.mcp.hosted.conftest import parsed, text
from tests.support import environment


def entity(name, entity_type="person", *observations):
    return {"name": name, "entityType": entity_type, "observations": list(observations)}


def relation(source, kind, target):
    return {"from": source, "to": target, "relationType": kind}


ADA = entity("Ada Lovelace", "person", "wrote the first program", "Gräfin of Lovelace")
CHARLES = entity("Charles Babbage", "person", "designed the Analytical Engine")
ENGINE = entity("Analytical Engine", "machine")
NOTES = entity("Notes", "document", "translated from Menabrea")


@pytest.fixture
def alice(token_for, make_user_id):
    return token_for(make_user_id("alice"))


@pytest.fixture
def seeded(memory, alice):
    """Alice's graph: three people and things, two relations."""
    memory.calls(
        alice,
        "2026-07-28",
        [
            ("create_entities", {"entities": [ADA, CHARLES, ENGINE]}),
            (
                "create_relations",
                {
                    "relations": [
                        relation("Ada Lovelace", "worked with", "Charles Babbage"),
                        relation("Charles Babbage", "designed", "Analytical Engine"),
                    ]
                },
            ),
        ],
    )
    return alice


def test_create_entities_answers_the_new_entities_as_text_and_structured_content(memory, mode, alice):
    result = memory.call(alice, mode, "create_entities", {"entities": [ADA, CHARLES]})

    assert parsed(result) == [ADA, CHARLES]
    assert result.structured_content == {"entities": [ADA, CHARLES]}
    # JSON.stringify(value, null, 2), as the reference writes it (non-ASCII kept as it is).
    assert text(result) == json.dumps([ADA, CHARLES], indent=2, ensure_ascii=False)


def test_create_entities_ignores_names_that_exist(memory, mode, seeded):
    again = entity("Ada Lovelace", "countess", "another observation")

    first, second = memory.calls(
        seeded,
        mode,
        [
            ("create_entities", {"entities": [again, NOTES, NOTES]}),
            ("read_graph", {}),
        ],
    )

    assert parsed(first) == [NOTES]
    graph = parsed(second)
    assert [item["name"] for item in graph["entities"]] == [
        "Ada Lovelace",
        "Charles Babbage",
        "Analytical Engine",
        "Notes",
    ]
    assert graph["entities"][0] == ADA


def test_create_relations_ignores_existing_ones(memory, mode, seeded):
    known = relation("Ada Lovelace", "worked with", "Charles Babbage")
    new = relation("Ada Lovelace", "described", "Analytical Engine")

    result = memory.call(seeded, mode, "create_relations", {"relations": [known, new, new]})

    assert parsed(result) == [new]
    assert result.structured_content == {"relations": [new]}


def test_a_relation_to_an_unknown_entity_is_a_tool_error_and_nothing_is_stored(memory, mode, seeded):
    fine = relation("Ada Lovelace", "described", "Analytical Engine")
    dangling = relation("Ada Lovelace", "knew", "Mary Somerville")

    result, graph = memory.calls(
        seeded, mode, [("create_relations", {"relations": [fine, dangling]}), ("read_graph", {})]
    )

    assert result.is_error
    assert text(result) == "Entity with name Mary Somerville not found"
    assert fine not in parsed(graph)["relations"]


def test_add_observations_answers_what_was_added(memory, mode, seeded):
    result, graph = memory.calls(
        seeded,
        mode,
        [
            (
                "add_observations",
                {
                    "observations": [
                        {
                            "entityName": "Ada Lovelace",
                            "contents": ["wrote the first program", "was a poet's child"],
                        },
                        {
                            "entityName": "Analytical Engine",
                            "contents": ["was never built", "was never built"],
                        },
                    ]
                },
            ),
            ("open_nodes", {"names": ["Ada Lovelace", "Analytical Engine"]}),
        ],
    )

    expected = [
        {"entityName": "Ada Lovelace", "addedObservations": ["was a poet's child"]},
        {"entityName": "Analytical Engine", "addedObservations": ["was never built"]},
    ]
    assert parsed(result) == expected
    assert result.structured_content == {"results": expected}
    entities = parsed(graph)["entities"]
    assert entities[0]["observations"] == [*ADA["observations"], "was a poet's child"]
    assert entities[1]["observations"] == ["was never built"]


def test_add_observations_to_an_unknown_entity_fails_the_whole_call(memory, mode, seeded):
    result, graph = memory.calls(
        seeded,
        mode,
        [
            (
                "add_observations",
                {
                    "observations": [
                        {"entityName": "Ada Lovelace", "contents": ["stored only if all are"]},
                        {"entityName": "Nobody", "contents": ["x"]},
                    ]
                },
            ),
            ("open_nodes", {"names": ["Ada Lovelace"]}),
        ],
    )

    assert result.is_error
    assert text(result) == "Entity with name Nobody not found"
    assert parsed(graph)["entities"] == [ADA]


def test_delete_entities_removes_their_relations(memory, mode, seeded):
    result, graph = memory.calls(
        seeded,
        mode,
        [("delete_entities", {"entityNames": ["Charles Babbage", "Nobody"]}), ("read_graph", {})],
    )

    assert text(result) == "Entities deleted successfully"
    assert result.structured_content == {"success": True, "message": "Entities deleted successfully"}
    assert parsed(graph) == {"entities": [ADA, ENGINE], "relations": []}


def test_delete_observations_passes_over_unknown_entities(memory, mode, seeded):
    result, graph = memory.calls(
        seeded,
        mode,
        [
            (
                "delete_observations",
                {
                    "deletions": [
                        {
                            "entityName": "Ada Lovelace",
                            "observations": ["wrote the first program", "not there"],
                        },
                        {"entityName": "Nobody", "observations": ["x"]},
                    ]
                },
            ),
            ("open_nodes", {"names": ["Ada Lovelace"]}),
        ],
    )

    assert text(result) == "Observations deleted successfully"
    assert result.structured_content == {"success": True, "message": "Observations deleted successfully"}
    assert parsed(graph)["entities"][0]["observations"] == ["Gräfin of Lovelace"]


def test_delete_relations_removes_only_exact_matches(memory, mode, seeded):
    result, graph = memory.calls(
        seeded,
        mode,
        [
            (
                "delete_relations",
                {
                    "relations": [
                        relation("Ada Lovelace", "worked with", "Charles Babbage"),
                        relation("Charles Babbage", "built", "Analytical Engine"),
                    ]
                },
            ),
            ("read_graph", {}),
        ],
    )

    assert text(result) == "Relations deleted successfully"
    assert result.structured_content == {"success": True, "message": "Relations deleted successfully"}
    assert parsed(graph)["relations"] == [relation("Charles Babbage", "designed", "Analytical Engine")]


def test_read_graph_answers_everything_in_creation_order(memory, mode, seeded):
    result = memory.call(seeded, mode, "read_graph", {})

    graph = {
        "entities": [ADA, CHARLES, ENGINE],
        "relations": [
            relation("Ada Lovelace", "worked with", "Charles Babbage"),
            relation("Charles Babbage", "designed", "Analytical Engine"),
        ],
    }
    assert parsed(result) == graph
    assert result.structured_content == graph


def test_search_nodes_matches_names_types_and_observations_in_any_case(memory, mode, seeded):
    by_name, by_type, by_observation, accented, everything = memory.calls(
        seeded,
        mode,
        [
            ("search_nodes", {"query": "BABBAGE"}),
            ("search_nodes", {"query": "Machine"}),
            ("search_nodes", {"query": "first PROGRAM"}),
            ("search_nodes", {"query": "GRÄFIN"}),
            ("search_nodes", {"query": ""}),
        ],
    )

    # The relations that touch an entity found come along, whichever their other end.
    assert parsed(by_name) == {
        "entities": [CHARLES],
        "relations": [
            relation("Ada Lovelace", "worked with", "Charles Babbage"),
            relation("Charles Babbage", "designed", "Analytical Engine"),
        ],
    }
    assert parsed(by_type) == {
        "entities": [ENGINE],
        "relations": [relation("Charles Babbage", "designed", "Analytical Engine")],
    }
    assert [item["name"] for item in parsed(by_observation)["entities"]] == ["Ada Lovelace"]
    assert [item["name"] for item in parsed(accented)["entities"]] == ["Ada Lovelace"]
    assert len(parsed(everything)["entities"]) == 3
    assert by_name.structured_content == parsed(by_name)


def test_open_nodes_answers_the_named_entities_and_the_relations_touching_them(memory, mode, seeded):
    result = memory.call(
        seeded, mode, "open_nodes", {"names": ["Analytical Engine", "Ada Lovelace", "Nobody"]}
    )

    assert parsed(result) == {
        "entities": [ADA, ENGINE],
        "relations": [
            relation("Ada Lovelace", "worked with", "Charles Babbage"),
            relation("Charles Babbage", "designed", "Analytical Engine"),
        ],
    }


def test_the_graph_resource_is_the_whole_graph(memory, seeded):
    async def read(client):
        return await client.read_resource("memory://knowledge-graph")

    result = memory.session(seeded, "2026-07-28", read)

    assert json.loads(result.contents[0].text)["entities"] == [ADA, CHARLES, ENGINE]


def test_each_user_sees_only_their_own_graph(memory, mode, seeded, token_for, make_user_id):
    bob = token_for(make_user_id("bob"))

    graph, found, opened, deleted, own = memory.calls(
        bob,
        mode,
        [
            ("read_graph", {}),
            ("search_nodes", {"query": "Ada"}),
            ("open_nodes", {"names": ["Ada Lovelace"]}),
            ("delete_entities", {"entityNames": ["Ada Lovelace"]}),
            ("create_entities", {"entities": [entity("Ada Lovelace", "racehorse")]}),
        ],
    )

    assert parsed(graph) == {"entities": [], "relations": []}
    assert parsed(found)["entities"] == []
    assert parsed(opened)["entities"] == []
    assert not deleted.is_error
    # The same name is a different entity in Bob's graph.
    assert parsed(own) == [entity("Ada Lovelace", "racehorse")]
    alice_graph = parsed(memory.call(seeded, mode, "read_graph", {}))
    assert alice_graph["entities"][0] == ADA
    assert len(alice_graph["relations"]) == 2


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        (
            "create_entities",
            {"entities": [entity(f"e{index}") for index in range(101)]},
            "At most 100 entities per call",
        ),
        ("create_entities", {"entities": [entity("")]}, "entities[0].name must not be empty"),
        (
            "create_entities",
            {"entities": [entity("x" * 501)]},
            "entities[0].name is longer than 500 characters",
        ),
        (
            "create_entities",
            {"entities": [entity("Ada", "person", "ok", "y" * 4001)]},
            "entities[0].observations[1] is longer than 4000 characters",
        ),
        (
            "create_relations",
            {"relations": [relation("Ada", "", "Charles")]},
            "relations[0].relationType must not be empty",
        ),
        (
            "add_observations",
            {"observations": [{"entityName": "Ada", "contents": ["z" * 4001]}]},
            "observations[0].contents[0] is longer than 4000 characters",
        ),
        ("search_nodes", {"query": "q" * 501}, "query is longer than 500 characters"),
        ("open_nodes", {"names": ["n"] * 101}, "At most 100 names per call"),
        ("delete_entities", {"entityNames": ["n"] * 101}, "At most 100 entityNames per call"),
    ],
)
def test_arguments_beyond_the_bounds_are_tool_errors(memory, alice, tool, arguments, message):
    result = memory.call(alice, "2026-07-28", tool, arguments)

    assert result.is_error
    assert text(result) == message


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("create_entities", {"entities": [entity("Ada\u0000", "person")]}),
        ("create_entities", {"entities": [entity("Ada", "person", "wrote\u0000")]}),
        ("search_nodes", {"query": "Ada\u0000"}),
        ("delete_entities", {"entityNames": ["Ada\u0000"]}),
    ],
)
def test_text_holding_a_nul_character_is_a_tool_error(memory, alice, tool, arguments):
    # Postgres stores no text holding U+0000: the caller is told, the server does not fail.
    result = memory.call(alice, "2026-07-28", tool, arguments)

    assert result.is_error
    assert "NUL character" in text(result)


def test_arguments_that_do_not_fit_the_schema_are_tool_errors(memory, alice):
    not_a_list, missing = memory.calls(
        alice,
        "2026-07-28",
        [
            ("create_entities", {"entities": "Ada"}),
            ("create_entities", {"entities": [{"name": "Ada"}]}),
        ],
    )

    assert not_a_list.is_error and "entities" in text(not_a_list)
    assert missing.is_error and "entityType" in text(missing)


def test_a_graph_over_its_size_limit_refuses_new_entities(memory, alice, monkeypatch):
    monkeypatch.setattr(memory_repository, "MAX_ENTITIES_PER_USER", 2)

    first, second, graph = memory.calls(
        alice,
        "2026-07-28",
        [
            ("create_entities", {"entities": [ADA, CHARLES]}),
            ("create_entities", {"entities": [ENGINE]}),
            ("read_graph", {}),
        ],
    )

    assert not first.is_error
    assert second.is_error and text(second) == "A knowledge graph holds at most 2 entities"
    assert [item["name"] for item in parsed(graph)["entities"]] == ["Ada Lovelace", "Charles Babbage"]


def test_an_answer_too_large_for_lambda_points_to_partial_reads(memory, seeded, monkeypatch):
    monkeypatch.setattr(memory_server, "MAX_GRAPH_CHARS", 400)

    whole, part = memory.calls(
        seeded, "2026-07-28", [("read_graph", {}), ("open_nodes", {"names": ["Analytical Engine"]})]
    )

    assert whole.is_error
    assert text(whole) == (
        "The answer would hold 3 entities and 2 relations, too many to return at once:"
        " read parts of the graph with search_nodes or open_nodes"
    )
    assert not part.is_error


def test_the_database_down_is_a_json_rpc_error_without_secrets(memory, mode, alice, hosted, logged):
    password = "db-password-never-shown"
    hosted.setenv("DATABASE_URL", make_conninfo(host="127.0.0.1", port=1, user="app", password=password))
    environment.forget_caches()

    with pytest.raises(MCPError) as raised:
        memory.call(alice, mode, "read_graph", {})

    assert raised.value.message == "the database is unavailable"
    assert raised.value.data == {"code": "database_unavailable"}
    assert '"message":"hosted MCP tool failed"' in logged()
    assert '"error_code":"database_unavailable"' in logged()
    assert password not in logged()
    assert alice not in logged()

"""The same calls, the same answers: the hosted servers next to the published reference servers.

The reference servers (`@modelcontextprotocol/server-memory` and
`@modelcontextprotocol/server-sequential-thinking`, run with the venv's Node over stdio) and the hosted
ones answer one script of calls each; every answer (error flag, text, structured content) must
be identical. The scripts keep to input both accept alike (see `auralink.mcp.hosted.memory` for
where the hosted server is deliberately stricter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.integration.mcp.hosted.conftest import Endpoint
from tests.support.node import NODE, NODE_BIN

NPM_MODULES = Path(__file__).resolve().parents[3] / "fakes" / "npm" / "node_modules" / "@modelcontextprotocol"
MEMORY_ENTRY = NPM_MODULES / "server-memory" / "dist" / "index.js"
THINKING_ENTRY = NPM_MODULES / "server-sequential-thinking" / "dist" / "index.js"


def entity(name: str, entity_type: str, *observations: str) -> dict[str, Any]:
    return {"name": name, "entityType": entity_type, "observations": list(observations)}


def relation(source: str, kind: str, target: str) -> dict[str, str]:
    return {"from": source, "to": target, "relationType": kind}


ADA = entity("Ada Lovelace", "person", "wrote the first program", "Gräfin of Lovelace")
CHARLES = entity("Charles Babbage", "person", "designed the Analytical Engine", "worked with Ada")
ENGINE = entity("Analytical Engine", "machine")
NOTES = entity("Notes", "document", "translated from Menabrea")

MEMORY_SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("read_graph", {}),
    ("create_entities", {"entities": [ADA, CHARLES, ENGINE]}),
    ("create_entities", {"entities": [entity("Ada Lovelace", "countess"), NOTES]}),
    (
        "create_relations",
        {
            "relations": [
                relation("Ada Lovelace", "worked with", "Charles Babbage"),
                relation("Charles Babbage", "designed", "Analytical Engine"),
                relation("Ada Lovelace", "wrote", "Notes"),
            ]
        },
    ),
    (
        "create_relations",
        {
            "relations": [
                relation("Ada Lovelace", "wrote", "Notes"),
                relation("Notes", "describes", "Analytical Engine"),
            ]
        },
    ),
    (
        "add_observations",
        {
            "observations": [
                {"entityName": "Ada Lovelace", "contents": ["wrote the first program", "was a poet's child"]},
                {"entityName": "Analytical Engine", "contents": ["was never built"]},
            ]
        },
    ),
    ("add_observations", {"observations": [{"entityName": "Nobody", "contents": ["x"]}]}),
    ("search_nodes", {"query": "BABBAGE"}),
    ("search_nodes", {"query": "Machine"}),
    ("search_nodes", {"query": "gräfin"}),
    ("search_nodes", {"query": "no such thing"}),
    ("open_nodes", {"names": ["Analytical Engine", "Ada Lovelace", "Nobody"]}),
    (
        "delete_observations",
        {
            "deletions": [
                {"entityName": "Ada Lovelace", "observations": ["was a poet's child", "never said"]},
                {"entityName": "Nobody", "observations": ["x"]},
            ]
        },
    ),
    (
        "delete_relations",
        {"relations": [relation("Ada Lovelace", "wrote", "Notes"), relation("A", "b", "C")]},
    ),
    ("delete_entities", {"entityNames": ["Charles Babbage", "Nobody"]}),
    ("read_graph", {}),
    ("search_nodes", {"query": ""}),
]


def _thought(number: Any, total: Any, more: Any = True, **extra: Any) -> tuple[str, dict[str, Any]]:
    arguments = {"thought": f"thought {number}", "thoughtNumber": number, "totalThoughts": total}
    return "sequentialthinking", {**arguments, "nextThoughtNeeded": more, **extra}


THINKING_SCRIPT = [
    _thought(1, 3),
    _thought(2, 3),
    _thought(3, 3, branchFromThought=2, branchId="alternative"),
    _thought(3, 3, branchFromThought=2, branchId="12"),
    _thought(3, 3, branchFromThought=2, branchId="3"),
    _thought(2, 3, isRevision=True, revisesThought=2),
    _thought(4, 3, needsMoreThoughts=True),
    _thought("5", "5", "false", branchId="orphan"),
    _thought(6, 5, branchFromThought=1, branchId=""),
]


def _reference_answers(
    entry: Path, env: dict[str, str], script: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    if not entry.exists():
        pytest.skip(f"the reference server is not installed ({entry}): `make pytest` installs it")
    parameters = StdioServerParameters(
        command=str(NODE), args=[str(entry)], env={"PATH": str(NODE_BIN), **env}
    )

    async def run() -> list[Any]:
        async with Client(parameters, mode="legacy") as client:
            return [_answer(await client.call_tool(name, arguments)) for name, arguments in script]

    return anyio.run(run)


def _answer(result: Any) -> tuple[bool, list[str], Any]:
    return bool(result.is_error), [block.text for block in result.content], result.structured_content


def test_memory_answers_as_the_reference_does(memory: Endpoint, token_for, make_user_id, tmp_path):
    reference = _reference_answers(
        MEMORY_ENTRY, {"MEMORY_FILE_PATH": str(tmp_path / "memory.jsonl")}, MEMORY_SCRIPT
    )

    hosted = [
        _answer(result) for result in memory.calls(token_for(make_user_id()), "2026-07-28", MEMORY_SCRIPT)
    ]

    for step, (ours, theirs) in enumerate(zip(hosted, reference, strict=True)):
        assert ours == theirs, f"step {step}: {MEMORY_SCRIPT[step][0]}"


def test_sequential_thinking_answers_as_the_reference_does(thinking: Endpoint, token_for, make_user_id):
    reference = _reference_answers(THINKING_ENTRY, {"DISABLE_THOUGHT_LOGGING": "true"}, THINKING_SCRIPT)

    hosted = [
        _answer(result) for result in thinking.calls(token_for(make_user_id()), "legacy", THINKING_SCRIPT)
    ]

    for step, (ours, theirs) in enumerate(zip(hosted, reference, strict=True)):
        assert ours == theirs, f"step {step}: {THINKING_SCRIPT[step][1]}"

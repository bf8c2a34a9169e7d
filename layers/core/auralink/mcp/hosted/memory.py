"""The hosted Memory MCP server: the knowledge-graph tools of the reference Memory server.

Same tool names, arguments, descriptions, schemas and answers as
``@modelcontextprotocol/server-memory`` (2026.8.31), with each user's graph in Postgres under
row-level security instead of a JSONL file. Where the reference trusts its input, this server
bounds it (items per call, lengths, graph size) and answers a tool error that says which bound.

Deliberate differences, all towards a consistent graph: a relation's entities must exist (the
reference stores dangling relations); duplicates within one call count once (the reference keeps
both copies of an entity or observation named twice in the same call); names and types must not
be empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mcp.server import MCPServer
from mcp_types import CallToolResult

from auralink.errors import ValidationFailed
from auralink.mcp.hosted import memory_repository as repository
from auralink.mcp.hosted.app import current_caller
from auralink.mcp.hosted.memory_repository import (
    Entity,
    Graph,
    ObservationAddition,
    ObservationDeletion,
    Relation,
)
from auralink.mcp.hosted.tools import (
    Schema,
    answer,
    array,
    hints,
    json_text,
    record,
    reference_tool,
    root,
    string,
    text_result,
)

SERVER_NAME = "memory-server"
SERVER_VERSION = "0.6.3"
GRAPH_RESOURCE_URI = "memory://knowledge-graph"

MAX_ITEMS_PER_CALL = 100
MAX_NAME_CHARS = 500
MAX_TYPE_CHARS = 200
MAX_OBSERVATION_CHARS = 4_000
MAX_QUERY_CHARS = 500
# A graph answer carries the graph twice (text and structured content) and Lambda answers at
# most 6 MB: larger graphs are read in parts (search_nodes, open_nodes).
MAX_GRAPH_CHARS = 2_000_000

_ENTITY = record(
    {
        "name": string("The name of the entity"),
        "entityType": string("The type of the entity"),
        "observations": array(string(), "An array of observation contents associated with the entity"),
    }
)
_RELATION = record(
    {
        "from": string("The name of the entity where the relation starts"),
        "to": string("The name of the entity where the relation ends"),
        "relationType": string("The type of the relation"),
    }
)
_CLOSED_ENTITY = {**_ENTITY, "additionalProperties": False}
_CLOSED_RELATION = {**_RELATION, "additionalProperties": False}
_GRAPH_OUTPUT = root(
    record({"entities": array(_CLOSED_ENTITY), "relations": array(_CLOSED_RELATION)}, closed=True)
)
_STATUS_OUTPUT = root(record({"success": {"type": "boolean"}, "message": string()}, closed=True))
_READ = hints(read_only=True, destructive=False, idempotent=True)
_WRITE = hints(read_only=False, destructive=False, idempotent=False)
_DELETE = hints(read_only=False, destructive=True, idempotent=True)


def _inputs(properties: dict[str, Schema]) -> Schema:
    return root(record(properties))


# -- checks beyond the schema -------------------------------------------------------------------


def _check_count(items: Sequence[Any], what: str) -> None:
    if len(items) > MAX_ITEMS_PER_CALL:
        raise ValidationFailed(f"At most {MAX_ITEMS_PER_CALL} {what} per call", code="too_many_items")


def _check_text(value: str, field: str, limit: int) -> None:
    if not value:
        raise ValidationFailed(f"{field} must not be empty", code="empty_value")
    if len(value) > limit:
        raise ValidationFailed(f"{field} is longer than {limit} characters", code="value_too_long")


def _check_observations(observations: Sequence[str], field: str) -> None:
    _check_count(observations, f"observations in {field}")
    for index, observation in enumerate(observations):
        if len(observation) > MAX_OBSERVATION_CHARS:
            raise ValidationFailed(
                f"{field}[{index}] is longer than {MAX_OBSERVATION_CHARS} characters", code="value_too_long"
            )


def _check_relations(relations: Sequence[Relation], field: str) -> None:
    _check_count(relations, field)
    for index, relation in enumerate(relations):
        _check_text(relation.from_, f"{field}[{index}].from", MAX_NAME_CHARS)
        _check_text(relation.to, f"{field}[{index}].to", MAX_NAME_CHARS)
        _check_text(relation.relation_type, f"{field}[{index}].relationType", MAX_TYPE_CHARS)


def _check_names(names: Sequence[str], field: str) -> None:
    _check_count(names, field)
    for index, name in enumerate(names):
        if len(name) > MAX_NAME_CHARS:
            raise ValidationFailed(
                f"{field}[{index}] is longer than {MAX_NAME_CHARS} characters", code="value_too_long"
            )


def _first_of_each[T](items: Sequence[T], key: Callable[[T], object]) -> list[T]:
    seen: dict[object, T] = {}
    for item in items:
        seen.setdefault(key(item), item)
    return list(seen.values())


def _graph_result(graph: Graph) -> CallToolResult:
    structured = graph.model_dump(by_alias=True)
    text = json_text(structured)
    if len(text) > MAX_GRAPH_CHARS:
        raise ValidationFailed(
            f"The answer would hold {len(graph.entities)} entities and {len(graph.relations)} relations,"
            " too many to return at once: read parts of the graph with search_nodes or open_nodes",
            code="graph_too_large",
        )
    return text_result(text, structured)


def _status_result(message: str) -> CallToolResult:
    return text_result(message, {"success": True, "message": message})


# -- tools --------------------------------------------------------------------------------------


def create_entities(entities: list[Entity]) -> CallToolResult:
    def work() -> CallToolResult:
        _check_count(entities, "entities")
        for index, entity in enumerate(entities):
            _check_text(entity.name, f"entities[{index}].name", MAX_NAME_CHARS)
            _check_text(entity.entity_type, f"entities[{index}].entityType", MAX_TYPE_CHARS)
            _check_observations(entity.observations, f"entities[{index}].observations")
        unique = [
            entity.model_copy(update={"observations": list(dict.fromkeys(entity.observations))})
            for entity in _first_of_each(entities, lambda entity: entity.name)
        ]
        created = repository.create_entities(current_caller().sub, unique)
        listed = [entity.model_dump(by_alias=True) for entity in created]
        return text_result(json_text(listed), {"entities": listed})

    return answer("create_entities", work)


def create_relations(relations: list[Relation]) -> CallToolResult:
    def work() -> CallToolResult:
        _check_relations(relations, "relations")
        unique = _first_of_each(relations, lambda relation: relation.key)
        created = repository.create_relations(current_caller().sub, unique)
        listed = [relation.model_dump(by_alias=True) for relation in created]
        return text_result(json_text(listed), {"relations": listed})

    return answer("create_relations", work)


def add_observations(observations: list[ObservationAddition]) -> CallToolResult:
    def work() -> CallToolResult:
        _check_count(observations, "observation groups")
        for index, addition in enumerate(observations):
            _check_observations(addition.contents, f"observations[{index}].contents")
        added = repository.add_observations(current_caller().sub, observations)
        listed = [{"entityName": name, "addedObservations": contents} for name, contents in added]
        return text_result(json_text(listed), {"results": listed})

    return answer("add_observations", work)


def delete_entities(entityNames: list[str]) -> CallToolResult:  # the argument name is the reference's
    def work() -> CallToolResult:
        _check_names(entityNames, "entityNames")
        repository.delete_entities(current_caller().sub, entityNames)
        return _status_result("Entities deleted successfully")

    return answer("delete_entities", work)


def delete_observations(deletions: list[ObservationDeletion]) -> CallToolResult:
    def work() -> CallToolResult:
        _check_count(deletions, "deletions")
        for index, deletion in enumerate(deletions):
            _check_count(deletion.observations, f"observations in deletions[{index}]")
        repository.delete_observations(current_caller().sub, deletions)
        return _status_result("Observations deleted successfully")

    return answer("delete_observations", work)


def delete_relations(relations: list[Relation]) -> CallToolResult:
    def work() -> CallToolResult:
        _check_count(relations, "relations")
        repository.delete_relations(current_caller().sub, relations)
        return _status_result("Relations deleted successfully")

    return answer("delete_relations", work)


def read_graph() -> CallToolResult:
    return answer("read_graph", lambda: _graph_result(repository.read_graph(current_caller().sub)))


def search_nodes(query: str) -> CallToolResult:
    def work() -> CallToolResult:
        if len(query) > MAX_QUERY_CHARS:
            raise ValidationFailed(
                f"query is longer than {MAX_QUERY_CHARS} characters", code="value_too_long"
            )
        return _graph_result(repository.search_nodes(current_caller().sub, query))

    return answer("search_nodes", work)


def open_nodes(names: list[str]) -> CallToolResult:
    def work() -> CallToolResult:
        _check_names(names, "names")
        return _graph_result(repository.open_nodes(current_caller().sub, names))

    return answer("open_nodes", work)


def knowledge_graph() -> str:
    """The reference's resource: the whole graph as JSON."""
    return json_text(repository.read_graph(current_caller().sub).model_dump(by_alias=True))


_TOOLS = [
    reference_tool(
        create_entities,
        name="create_entities",
        title="Create Entities",
        description="Create multiple new entities in the knowledge graph",
        input_schema=_inputs({"entities": array(_ENTITY)}),
        output_schema=root(record({"entities": array(_CLOSED_ENTITY)}, closed=True)),
        annotations=_WRITE,
    ),
    reference_tool(
        create_relations,
        name="create_relations",
        title="Create Relations",
        description="Create multiple new relations between entities in the knowledge graph."
        " Relations should be in active voice",
        input_schema=_inputs({"relations": array(_RELATION)}),
        output_schema=root(record({"relations": array(_CLOSED_RELATION)}, closed=True)),
        annotations=_WRITE,
    ),
    reference_tool(
        add_observations,
        name="add_observations",
        title="Add Observations",
        description="Add new observations to existing entities in the knowledge graph",
        input_schema=_inputs(
            {
                "observations": array(
                    record(
                        {
                            "entityName": string("The name of the entity to add the observations to"),
                            "contents": array(string(), "An array of observation contents to add"),
                        }
                    )
                )
            }
        ),
        output_schema=root(
            record(
                {
                    "results": array(
                        record({"entityName": string(), "addedObservations": array(string())}, closed=True)
                    )
                },
                closed=True,
            )
        ),
        annotations=_WRITE,
    ),
    reference_tool(
        delete_entities,
        name="delete_entities",
        title="Delete Entities",
        description="Delete multiple entities and their associated relations from the knowledge graph",
        input_schema=_inputs({"entityNames": array(string(), "An array of entity names to delete")}),
        output_schema=_STATUS_OUTPUT,
        annotations=_DELETE,
    ),
    reference_tool(
        delete_observations,
        name="delete_observations",
        title="Delete Observations",
        description="Delete specific observations from entities in the knowledge graph",
        input_schema=_inputs(
            {
                "deletions": array(
                    record(
                        {
                            "entityName": string("The name of the entity containing the observations"),
                            "observations": array(string(), "An array of observations to delete"),
                        }
                    )
                )
            }
        ),
        output_schema=_STATUS_OUTPUT,
        annotations=_DELETE,
    ),
    reference_tool(
        delete_relations,
        name="delete_relations",
        title="Delete Relations",
        description="Delete multiple relations from the knowledge graph",
        input_schema=_inputs({"relations": array(_RELATION, "An array of relations to delete")}),
        output_schema=_STATUS_OUTPUT,
        annotations=_DELETE,
    ),
    reference_tool(
        read_graph,
        name="read_graph",
        title="Read Graph",
        description="Read the entire knowledge graph",
        input_schema=root(record({})),
        output_schema=_GRAPH_OUTPUT,
        annotations=_READ,
    ),
    reference_tool(
        search_nodes,
        name="search_nodes",
        title="Search Nodes",
        description="Search for nodes in the knowledge graph based on a query",
        input_schema=_inputs(
            {
                "query": string(
                    "The search query to match against entity names, types, and observation content"
                )
            }
        ),
        output_schema=_GRAPH_OUTPUT,
        annotations=_READ,
    ),
    reference_tool(
        open_nodes,
        name="open_nodes",
        title="Open Nodes",
        description="Open specific nodes in the knowledge graph by their names",
        input_schema=_inputs({"names": array(string(), "An array of entity names to retrieve")}),
        output_schema=_GRAPH_OUTPUT,
        annotations=_READ,
    ),
]

server: MCPServer = MCPServer(SERVER_NAME, version=SERVER_VERSION, tools=_TOOLS, log_level="WARNING")
server.resource(
    GRAPH_RESOURCE_URI,
    name="knowledge-graph",
    title="Knowledge Graph",
    description="The full knowledge graph with all entities and relations",
    mime_type="application/json",
)(knowledge_graph)

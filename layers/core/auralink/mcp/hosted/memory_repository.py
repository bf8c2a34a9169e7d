"""Each user's knowledge graph in Postgres: the storage of the hosted Memory server.

Every function is one tenant transaction: row-level security shows each caller only its own
entities and relations, so no statement filters on ``user_id`` for isolation. Entities and
relations come back in the order they were created (``seq``), as the reference server's file does.
Relations name their entities and go with them (foreign keys, ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import LiteralString

from psycopg import errors as pg_errors
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from pydantic import ConfigDict, Field

from auralink.db import Connection, tenant_transaction
from auralink.errors import NotFound, ValidationFailed
from auralink.model import DeferredModel

MAX_ENTITIES_PER_USER = 5_000
MAX_RELATIONS_PER_USER = 20_000
MAX_OBSERVATIONS_PER_ENTITY = 500


class _Wire(DeferredModel):
    # The reference's names on the wire (entityType, relationType...); unknown keys are dropped,
    # as zod drops them.
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Entity(_Wire):
    name: str
    entity_type: str = Field(alias="entityType")
    observations: list[str]


class Relation(_Wire):
    from_: str = Field(alias="from")
    to: str
    relation_type: str = Field(alias="relationType")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.from_, self.to, self.relation_type)


class ObservationAddition(_Wire):
    entity_name: str = Field(alias="entityName")
    contents: list[str]


class ObservationDeletion(_Wire):
    entity_name: str = Field(alias="entityName")
    observations: list[str]


class Graph(_Wire):
    entities: list[Entity]
    relations: list[Relation]


def entity_not_found(name: str) -> NotFound:
    # The reference server's own words.
    return NotFound(f"Entity with name {name} not found", code="entity_not_found")


def create_entities(user_id: str, entities: Sequence[Entity]) -> list[Entity]:
    """Store the entities whose names are new; return those, in the order given."""
    items = [entity.model_dump(by_alias=True) for entity in entities]
    with tenant_transaction(user_id) as conn:
        rows = conn.execute(
            """
            INSERT INTO memory_entities (user_id, name, entity_type, observations)
            SELECT %s, item->>'name', item->>'entityType',
                   ARRAY(SELECT jsonb_array_elements_text(item->'observations'))
              FROM jsonb_array_elements(%s) WITH ORDINALITY AS batch(item, position)
             ORDER BY position
            ON CONFLICT (user_id, name) DO NOTHING
            RETURNING name
            """,
            (user_id, Jsonb(items)),
        ).fetchall()
        _check_count(conn, "entities", MAX_ENTITIES_PER_USER)
    created = {row["name"] for row in rows}
    return [entity for entity in entities if entity.name in created]


def create_relations(user_id: str, relations: Sequence[Relation]) -> list[Relation]:
    """Store the relations that are new; return those, in the order given."""
    try:
        with tenant_transaction(user_id) as conn:
            _require_entities(conn, [name for relation in relations for name in relation.key[:2]])
            rows = conn.execute(
                """
                INSERT INTO memory_relations (user_id, from_entity, to_entity, relation_type)
                SELECT %s, source, target, kind
                  FROM unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY
                       AS batch(source, target, kind, position)
                 ORDER BY position
                ON CONFLICT DO NOTHING
                RETURNING from_entity, to_entity, relation_type
                """,
                (
                    user_id,
                    [relation.from_ for relation in relations],
                    [relation.to for relation in relations],
                    [relation.relation_type for relation in relations],
                ),
            ).fetchall()
            _check_count(conn, "relations", MAX_RELATIONS_PER_USER)
    except pg_errors.ForeignKeyViolation:
        # An entity was deleted by a concurrent call after it was checked.
        raise NotFound("An entity of these relations no longer exists", code="entity_not_found") from None
    created = {(row["from_entity"], row["to_entity"], row["relation_type"]) for row in rows}
    return [relation for relation in relations if relation.key in created]


def add_observations(user_id: str, additions: Sequence[ObservationAddition]) -> list[tuple[str, list[str]]]:
    """Append the observations an entity does not have yet; return what each addition added.

    An unknown entity fails the whole call, and nothing is stored.
    """
    with tenant_transaction(user_id) as conn:
        current = _lock_observations(conn, [addition.entity_name for addition in additions])
        results: list[tuple[str, list[str]]] = []
        for addition in additions:
            observations = current.get(addition.entity_name)
            if observations is None:
                raise entity_not_found(addition.entity_name)
            added = [content for content in dict.fromkeys(addition.contents) if content not in observations]
            observations.extend(added)
            if len(observations) > MAX_OBSERVATIONS_PER_ENTITY:
                raise ValidationFailed(
                    f"Entity {addition.entity_name} would have more than {MAX_OBSERVATIONS_PER_ENTITY}"
                    " observations",
                    code="too_many_observations",
                )
            results.append((addition.entity_name, added))
        changed = {name for name, added in results if added}
        _store_observations(conn, {name: current[name] for name in changed})
    return results


def delete_entities(user_id: str, names: Sequence[str]) -> None:
    with tenant_transaction(user_id) as conn:
        conn.execute("DELETE FROM memory_entities WHERE name = ANY(%s)", (list(names),))


def delete_observations(user_id: str, deletions: Sequence[ObservationDeletion]) -> None:
    """Remove the named observations; entities that do not exist are passed over."""
    with tenant_transaction(user_id) as conn:
        current = _lock_observations(conn, [deletion.entity_name for deletion in deletions])
        changed: set[str] = set()
        for deletion in deletions:
            observations = current.get(deletion.entity_name)
            if observations is None:
                continue
            gone = set(deletion.observations)
            current[deletion.entity_name] = [item for item in observations if item not in gone]
            changed.add(deletion.entity_name)
        _store_observations(conn, {name: current[name] for name in changed})


def delete_relations(user_id: str, relations: Sequence[Relation]) -> None:
    with tenant_transaction(user_id) as conn:
        conn.execute(
            """
            DELETE FROM memory_relations AS relation
             USING unnest(%s::text[], %s::text[], %s::text[]) AS gone(source, target, kind)
             WHERE relation.from_entity = gone.source AND relation.to_entity = gone.target
               AND relation.relation_type = gone.kind
            """,
            (
                [relation.from_ for relation in relations],
                [relation.to for relation in relations],
                [relation.relation_type for relation in relations],
            ),
        )


_ENTITIES = "SELECT name, entity_type, observations FROM memory_entities"
_RELATIONS = "SELECT from_entity, to_entity, relation_type FROM memory_relations"
_MATCHING = """
    WHERE strpos(lower(name), lower(%(query)s)) > 0
       OR strpos(lower(entity_type), lower(%(query)s)) > 0
       OR EXISTS (SELECT 1 FROM unnest(observations) AS observation
                   WHERE strpos(lower(observation), lower(%(query)s)) > 0)
"""
# Relations with at least one end among the entities found, as the reference answers: a caller
# discovers a node's connections without reading the whole graph.
_TOUCHING = " WHERE from_entity = ANY(%(names)s) OR to_entity = ANY(%(names)s)"
_NAMED = " WHERE name = ANY(%(names)s)"
_IN_ORDER = " ORDER BY seq"


def read_graph(user_id: str) -> Graph:
    with tenant_transaction(user_id) as conn:
        entities = conn.execute(_ENTITIES + _IN_ORDER).fetchall()
        relations = conn.execute(_RELATIONS + _IN_ORDER).fetchall()
    return _graph(entities, relations)


def search_nodes(user_id: str, query: str) -> Graph:
    """Entities whose name, type or an observation contains ``query`` (any case), and the
    relations that touch them."""
    with tenant_transaction(user_id) as conn:
        entities = conn.execute(_ENTITIES + _MATCHING + _IN_ORDER, {"query": query}).fetchall()
        names = [row["name"] for row in entities]
        relations = conn.execute(_RELATIONS + _TOUCHING + _IN_ORDER, {"names": names}).fetchall()
    return _graph(entities, relations)


def open_nodes(user_id: str, names: Sequence[str]) -> Graph:
    """The named entities that exist, and the relations that touch them."""
    with tenant_transaction(user_id) as conn:
        entities = conn.execute(_ENTITIES + _NAMED + _IN_ORDER, {"names": list(names)}).fetchall()
        found = [row["name"] for row in entities]
        relations = conn.execute(_RELATIONS + _TOUCHING + _IN_ORDER, {"names": found}).fetchall()
    return _graph(entities, relations)


def _graph(entities: Sequence[DictRow], relations: Sequence[DictRow]) -> Graph:
    return Graph(
        entities=[
            Entity(name=row["name"], entity_type=row["entity_type"], observations=row["observations"])
            for row in entities
        ],
        relations=[
            Relation(from_=row["from_entity"], to=row["to_entity"], relation_type=row["relation_type"])
            for row in relations
        ],
    )


def _require_entities(conn: Connection, names: Iterable[str]) -> None:
    wanted = list(dict.fromkeys(names))
    rows = conn.execute("SELECT name FROM memory_entities WHERE name = ANY(%s)", (wanted,)).fetchall()
    found = {row["name"] for row in rows}
    for name in wanted:
        if name not in found:
            raise entity_not_found(name)


def _lock_observations(conn: Connection, names: Iterable[str]) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT name, observations FROM memory_entities WHERE name = ANY(%s) FOR UPDATE",
        (list(dict.fromkeys(names)),),
    ).fetchall()
    return {row["name"]: list(row["observations"]) for row in rows}


def _store_observations(conn: Connection, observations: dict[str, list[str]]) -> None:
    if not observations:
        return
    conn.execute(
        """
        UPDATE memory_entities AS entity
           SET observations = ARRAY(SELECT jsonb_array_elements_text(changed.value))
          FROM jsonb_each(%s) AS changed
         WHERE entity.name = changed.key
        """,
        (Jsonb(observations),),
    )


_COUNTS: dict[str, LiteralString] = {
    "entities": "SELECT count(*) AS total FROM memory_entities",
    "relations": "SELECT count(*) AS total FROM memory_relations",
}


def _check_count(conn: Connection, what: str, limit: int) -> None:
    # Counted after the insert, inside its transaction: exceeding the limit rolls the insert back.
    row = conn.execute(_COUNTS[what]).fetchone()
    if row is not None and row["total"] > limit:
        raise ValidationFailed(f"A knowledge graph holds at most {limit} {what}", code=f"too_many_{what}")

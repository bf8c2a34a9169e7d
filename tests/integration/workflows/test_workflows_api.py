"""The workflows API over its handlers: create, list, read, replace, delete, across users."""

from __future__ import annotations

import copy
from typing import Any
from uuid import uuid4

import pytest

from auralink.agents.workflows.service import get_definition
from auralink.errors import NotFound


def definition(**changes: Any) -> dict[str, Any]:
    document = {
        "entry": "greet",
        "nodes": [
            {
                "id": "greet",
                "kind": "llm",
                "prompt": "Say hi to {input.name}",
                "model": "openai/gpt-5.4-mini",
            },
            {
                "id": "review",
                "kind": "condition",
                "branches": [{"when": "contains(lower(outputs.greet), 'hi')", "to": "END"}],
                "default": "confirm",
            },
            {"id": "confirm", "kind": "human", "prompt": "Is '{outputs.greet}' fine?"},
        ],
        "edges": [{"from": "greet", "to": "review"}, {"from": "confirm", "to": "END"}],
    }
    document.update(changes)
    return document


def create(api, user, name="greeter", **body):
    return api("CreateWorkflowFunction", user, body={"name": name, "definition": definition(), **body})


def test_create_then_read_a_workflow(api, make_user_id):
    user = make_user_id()

    status, created = create(api, user, description="Greets people")

    assert status == 201, created
    assert created["name"] == "greeter" and created["description"] == "Greets people"
    assert created["version"] == 1 and created["created_at"] == created["updated_at"]
    # The stored definition is the normalised one: defaults filled in, edges by "from".
    greet = created["definition"]["nodes"][0]
    assert greet["model"] == "openai/gpt-5.4-mini" and greet["temperature"] is None
    assert created["definition"]["edges"][0] == {"from": "greet", "to": "review"}
    status, read = api("GetWorkflowFunction", user, path={"workflow_id": created["workflow_id"]})
    assert (status, read) == (200, created)


def test_the_name_is_trimmed_and_the_description_optional(api, make_user_id):
    status, created = create(api, make_user_id(), name="  padded  ")

    assert status == 201, created
    assert (created["name"], created["description"]) == ("padded", "")


def test_a_taken_name_is_409(api, make_user_id):
    user = make_user_id()
    assert create(api, user)[0] == 201

    status, body = create(api, user)

    assert (status, body["error"]["code"]) == (409, "workflow_name_taken")
    # Another user may use the same name.
    assert create(api, make_user_id())[0] == 201


def test_replace_bumps_the_version(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user)
    changed = definition()
    changed["nodes"][0]["prompt"] = "Say hello to {input.name}"

    status, replaced = api(
        "UpdateWorkflowFunction",
        user,
        path={"workflow_id": created["workflow_id"]},
        body={"name": "greeter-2", "description": "v2", "definition": changed},
    )

    assert status == 200, replaced
    assert (replaced["name"], replaced["description"], replaced["version"]) == ("greeter-2", "v2", 2)
    assert replaced["definition"]["nodes"][0]["prompt"] == "Say hello to {input.name}"
    assert replaced["created_at"] == created["created_at"] and replaced["updated_at"] > created["updated_at"]
    _, read = api("GetWorkflowFunction", user, path={"workflow_id": created["workflow_id"]})
    assert read["version"] == 2


def test_replace_with_a_name_of_another_workflow_is_409(api, make_user_id):
    user = make_user_id()
    create(api, user, name="first")
    _, second = create(api, user, name="second")

    status, body = api(
        "UpdateWorkflowFunction",
        user,
        path={"workflow_id": second["workflow_id"]},
        body={"name": "first", "definition": definition()},
    )

    assert (status, body["error"]["code"]) == (409, "workflow_name_taken")


def test_replace_checks_the_definition_like_create(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user)

    status, body = api(
        "UpdateWorkflowFunction",
        user,
        path={"workflow_id": created["workflow_id"]},
        body={"name": "greeter", "definition": definition(entry="nobody")},
    )

    assert status == 422
    assert body["error"]["details"] == [
        {"field": "body.definition.entry", "message": "no node 'nobody' in this workflow"}
    ]
    assert api("GetWorkflowFunction", user, path={"workflow_id": created["workflow_id"]})[1]["version"] == 1


def test_delete_then_it_is_gone(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user)
    path = {"workflow_id": created["workflow_id"]}

    status, body = api("DeleteWorkflowFunction", user, path=path)

    assert (status, body) == (204, None)
    status, body = api("GetWorkflowFunction", user, path=path)
    assert (status, body["error"]["code"]) == (404, "workflow_not_found")
    assert api("DeleteWorkflowFunction", user, path=path)[0] == 404


@pytest.mark.parametrize(
    ("function_id", "body"),
    [
        ("GetWorkflowFunction", None),
        ("UpdateWorkflowFunction", {"name": "mine now", "definition": definition()}),
        ("DeleteWorkflowFunction", None),
    ],
)
def test_another_users_workflow_is_404(api, make_user_id, function_id, body):
    owner, stranger = make_user_id("owner"), make_user_id("stranger")
    _, created = create(api, owner)
    path = {"workflow_id": created["workflow_id"]}

    status, answer = api(function_id, stranger, path=path, body=body)

    assert (status, answer["error"]["code"]) == (404, "workflow_not_found")
    status, read = api("GetWorkflowFunction", owner, path=path)
    assert (status, read["name"], read["version"]) == (200, "greeter", 1)


def test_an_unknown_id_is_404_and_a_malformed_one_422(api, make_user_id):
    user = make_user_id()

    status, body = api("GetWorkflowFunction", user, path={"workflow_id": str(uuid4())})
    assert (status, body["error"]["code"]) == (404, "workflow_not_found")
    status, body = api("GetWorkflowFunction", user, path={"workflow_id": "not-a-uuid"})
    assert status == 422 and body["error"]["details"][0]["field"] == "path.workflow_id"


def test_the_list_is_paged_newest_first_without_definitions(api, make_user_id):
    user = make_user_id()
    ids = [create(api, user, name=f"wf-{index}")[1]["workflow_id"] for index in range(5)]
    create(api, make_user_id(), name="someone else's")

    status, first = api("ListWorkflowsFunction", user, query={"limit": "2"})
    assert status == 200, first
    _, second = api("ListWorkflowsFunction", user, query={"limit": "2", "cursor": first["next_cursor"]})
    _, third = api("ListWorkflowsFunction", user, query={"limit": "2", "cursor": second["next_cursor"]})

    pages = [first, second, third]
    listed = [workflow["workflow_id"] for page in pages for workflow in page["workflows"]]
    assert listed == list(reversed(ids))
    assert third["next_cursor"] is None
    assert set(first["workflows"][0]) == {
        "workflow_id",
        "name",
        "description",
        "version",
        "created_at",
        "updated_at",
    }


def test_a_forged_cursor_is_422(api, make_user_id):
    status, body = api("ListWorkflowsFunction", make_user_id(), query={"cursor": "bm90LWEtY3Vyc29y"})

    assert (status, body["error"]["code"]) == (422, "invalid_cursor")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"definition": definition()}, "body.name"),
        ({"name": "", "definition": definition()}, "body.name"),
        ({"name": "   ", "definition": definition()}, "body.name"),
        ({"name": "x" * 201, "definition": definition()}, "body.name"),
        ({"name": "x"}, "body.definition"),
        ({"name": "x", "definition": []}, "body.definition"),
        ({"name": "x", "definition": definition(), "owner": "me"}, "body.owner"),
    ],
)
def test_request_bodies_are_checked(api, make_user_id, body, field):
    status, answer = api("CreateWorkflowFunction", make_user_id(), body=body)

    assert status == 422
    assert field in [item["field"] for item in answer["error"]["details"]]


def test_without_a_token_it_is_401(api):
    status, body = api("ListWorkflowsFunction", None)

    assert (status, body["error"]["code"]) == (401, "token_missing")


def test_get_definition_gives_the_run_machinery_the_parsed_graph(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user)

    parsed, version = get_definition(user, created["workflow_id"])

    assert version == 1 and parsed.entry == "greet" and parsed.successor("greet") == "review"
    for other_user, workflow_id in ((make_user_id(), created["workflow_id"]), (user, "not-a-uuid")):
        with pytest.raises(NotFound):
            get_definition(other_user, workflow_id)


def _invalid(mutate) -> dict[str, Any]:
    document = copy.deepcopy(definition())
    mutate(document)
    return document


def _loop_forever(document: dict[str, Any]) -> None:
    # greet -> review -> confirm -> greet, and review's branch no longer leaves.
    document["nodes"][1]["branches"][0]["to"] = "confirm"
    document["edges"][1]["to"] = "greet"


def _set(path: tuple[Any, ...], value: Any):
    def mutate(document: dict[str, Any]) -> None:
        container = document
        for key in path[:-1]:
            container = container[key]
        container[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (_set(("nodes", 0, "prompt"), 7), "body.definition.nodes[0].prompt", "valid string"),
        (_set(("nodes", 2, "id"), "greet"), "body.definition.nodes[2].id", "used by nodes[0]"),
        (_set(("edges", 1, "to"), "done"), "body.definition.edges[1].to", "no node 'done'"),
        (_set(("nodes", 1, "default"), "END"), "body.definition.nodes[2]", "cannot be reached"),
        (_loop_forever, "body.definition.nodes[0]", "never reaches END"),
        (lambda d: d["edges"].pop(), "body.definition.nodes[2]", "no outgoing edge"),
        (_set(("nodes", 0, "prompt"), "Hi {input.name"), "body.definition.nodes[0].prompt", "unclosed {"),
        (_set(("nodes", 2, "prompt"), "{outputs.nope}"), "body.definition.nodes[2].prompt", "names no node"),
        (
            _set(("nodes", 1, "branches", 0, "when"), "2 ** 8"),
            "body.definition.nodes[1].branches[0].when",
            "**",
        ),
        (
            _set(("nodes", 2, "input_schema"), {"type": 5}),
            "body.definition.nodes[2].input_schema.type",
            "not a valid JSON schema",
        ),
        (
            _set(("nodes", 0, "model"), "openai/gpt-9"),
            "body.definition.nodes[0].model",
            "no model 'openai/gpt-9'",
        ),
        (_set(("nodes", 0, "model"), "gpt-4o"), "body.definition.nodes[0].model", "<provider>/<model>"),
        (
            _set(("nodes", 2), {"id": "confirm", "kind": "tool", "tool": "shell"}),
            "body.definition.nodes[2].tool",
            "unknown tool 'shell'",
        ),
    ],
)
def test_each_kind_of_invalid_definition_is_422_naming_the_path(api, make_user_id, mutate, field, message):
    status, body = create(api, make_user_id(), definition=_invalid(mutate))

    assert status == 422, body
    assert body["error"]["code"] == "validation_failed"
    matching = [item for item in body["error"]["details"] if item["field"] == field]
    assert matching and message in matching[0]["message"], body["error"]["details"]


def test_a_disabled_model_is_named(api, make_user_id, owner_conn):
    name = f"retired-{uuid4().hex[:8]}"
    owner_conn.execute(
        "INSERT INTO llm_models (provider_id, name, display_name, context_window, input_price_per_mtok,"
        " output_price_per_mtok, enabled) SELECT id, %s, 'Retired', 1000, 1, 1, false FROM llm_providers"
        " WHERE name = 'openai'",
        (name,),
    )
    try:
        status, body = create(
            api, make_user_id(), definition=_invalid(_set(("nodes", 0, "model"), f"openai/{name}"))
        )
    finally:
        owner_conn.execute("DELETE FROM llm_models WHERE name = %s", (name,))

    assert status == 422
    assert body["error"]["details"] == [
        {"field": "body.definition.nodes[0].model", "message": f"model 'openai/{name}' is disabled"}
    ]


def test_a_model_of_the_users_own_endpoint_is_accepted(api, make_user_id):
    user = make_user_id()
    own = definition()
    own["nodes"][0]["model"] = "openai/qwen2.5:7b"
    refused, _ = create(api, user, definition=own)

    stored, body = api(
        "LlmPutPreferencesFunction",
        user,
        body={"providers": {"openai": {"api_key": None, "base_url": "http://127.0.0.1:11434/v1"}}},
    )
    accepted, workflow = create(api, user, definition=own)

    assert refused == 422
    assert stored == 200, body
    assert accepted == 201, workflow
    assert workflow["definition"]["nodes"][0]["model"] == "openai/qwen2.5:7b"

"""The pipelines API over its handlers: create, list, read, replace, delete, across users, and
each rule of the definition refused with its path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

# The issue's two example steps.
TOOL_STEP = {"id": "t", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}}
MAP_STEP = {
    "id": "m",
    "kind": "map",
    "over": "{parameters.items}",
    "concurrency": 2,
    "step": {"kind": "tool", "tool": "calculator", "arguments": {"expression": "{item} * 2"}},
}
PARAMETERS_SCHEMA = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "number"}}, "topic": {"type": "string"}},
    "required": ["items"],
}


def definition() -> dict[str, Any]:
    return {
        "steps": [
            copy.deepcopy(TOOL_STEP),
            copy.deepcopy(MAP_STEP),
            {
                "id": "big",
                "kind": "condition",
                "depends_on": ["t"],
                "expression": "number(steps.t.output) > 40",
            },
            {
                "id": "summary",
                "kind": "llm",
                "depends_on": ["m", "big"],
                "prompt": "Summarise {steps.m.output} for {parameters.topic}",
                "retries": 2,
                "retry_delay_seconds": 5,
                "timeout_seconds": 120,
                "cache": True,
            },
        ],
        "output": {"doubled": "{steps.m.output}", "summary": "{steps.summary.output}"},
    }


def body(name: str = "doubler", **changes: Any) -> dict[str, Any]:
    return {"name": name, "parameters_schema": PARAMETERS_SCHEMA, "definition": definition(), **changes}


def create(api, user, **changes):
    return api("CreatePipelineFunction", user, body=body(**changes))


def test_the_issues_two_example_steps_make_a_pipeline(api, make_user_id):
    user = make_user_id()

    status, created = api(
        "CreatePipelineFunction",
        user,
        body={"name": "examples", "definition": {"steps": [TOOL_STEP, MAP_STEP]}},
    )

    assert status == 201, created
    tool, mapped = created["definition"]["steps"]
    assert tool == {
        **TOOL_STEP,
        "depends_on": [],
        "retries": 0,
        "retry_delay_seconds": 0,
        "timeout_seconds": None,
        "cache": False,
    }
    assert mapped["over"] == "{parameters.items}" and mapped["concurrency"] == 2
    assert mapped["step"]["arguments"] == {"expression": "{item} * 2"} and mapped["step"]["retries"] == 0
    assert created["parameters_schema"] is None and created["definition"]["output"] is None
    assert created["version"] == 1 and created["description"] == ""


def test_create_then_read_a_pipeline(api, make_user_id):
    user = make_user_id()

    status, created = create(api, user, description="Doubles, then summarises")

    assert status == 201, created
    assert (created["name"], created["description"]) == ("doubler", "Doubles, then summarises")
    assert created["parameters_schema"] == PARAMETERS_SCHEMA
    summary = created["definition"]["steps"][3]
    assert (summary["retries"], summary["timeout_seconds"], summary["cache"]) == (2, 120, True)
    assert summary["model"] is None and summary["depends_on"] == ["m", "big"]
    assert created["definition"]["output"] == definition()["output"]
    assert created["created_at"] == created["updated_at"]
    status, read = api("GetPipelineFunction", user, path={"pipeline_id": created["pipeline_id"]})
    assert (status, read) == (200, created)


def test_the_name_is_trimmed(api, make_user_id):
    status, created = create(api, make_user_id(), name="  padded  ")

    assert (status, created["name"]) == (201, "padded")


def test_a_taken_name_is_409_but_not_for_another_user(api, make_user_id):
    user = make_user_id()
    assert create(api, user)[0] == 201

    status, answer = create(api, user)

    assert (status, answer["error"]["code"]) == (409, "pipeline_name_taken")
    assert create(api, make_user_id())[0] == 201


def test_replace_bumps_the_version(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user)
    changed = definition()
    changed["steps"][1]["concurrency"] = 5

    status, replaced = api(
        "UpdatePipelineFunction",
        user,
        path={"pipeline_id": created["pipeline_id"]},
        body={"name": "doubler-2", "description": "v2", "definition": changed},
    )

    assert status == 200, replaced
    assert (replaced["name"], replaced["description"], replaced["version"]) == ("doubler-2", "v2", 2)
    assert replaced["definition"]["steps"][1]["concurrency"] == 5
    # Replaced whole: a body without parameters_schema leaves none.
    assert replaced["parameters_schema"] is None
    assert replaced["created_at"] == created["created_at"] and replaced["updated_at"] > created["updated_at"]
    _, read = api("GetPipelineFunction", user, path={"pipeline_id": created["pipeline_id"]})
    assert read == replaced


def test_replace_with_the_name_of_another_pipeline_is_409(api, make_user_id):
    user = make_user_id()
    create(api, user, name="first")
    _, second = create(api, user, name="second")

    status, answer = api(
        "UpdatePipelineFunction", user, path={"pipeline_id": second["pipeline_id"]}, body=body("first")
    )

    assert (status, answer["error"]["code"]) == (409, "pipeline_name_taken")


def test_replace_checks_the_definition_like_create(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user)
    broken = definition()
    broken["steps"][3]["depends_on"] = ["m", "nobody"]

    status, answer = api(
        "UpdatePipelineFunction",
        user,
        path={"pipeline_id": created["pipeline_id"]},
        body=body(definition=broken),
    )

    assert status == 422
    assert answer["error"]["details"] == [
        {"field": "body.definition.steps[3].depends_on[1]", "message": "no step 'nobody' in this pipeline"}
    ]
    assert api("GetPipelineFunction", user, path={"pipeline_id": created["pipeline_id"]})[1]["version"] == 1


def test_delete_then_it_is_gone(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user)
    path = {"pipeline_id": created["pipeline_id"]}

    status, answer = api("DeletePipelineFunction", user, path=path)

    assert (status, answer) == (204, None)
    status, answer = api("GetPipelineFunction", user, path=path)
    assert (status, answer["error"]["code"]) == (404, "pipeline_not_found")
    assert api("DeletePipelineFunction", user, path=path)[0] == 404


@pytest.mark.parametrize(
    ("function_id", "request_body"),
    [
        ("GetPipelineFunction", None),
        ("UpdatePipelineFunction", body("mine now")),
        ("DeletePipelineFunction", None),
    ],
)
def test_another_users_pipeline_is_404(api, make_user_id, function_id, request_body):
    owner, stranger = make_user_id("owner"), make_user_id("stranger")
    _, created = create(api, owner)
    path = {"pipeline_id": created["pipeline_id"]}

    status, answer = api(function_id, stranger, path=path, body=request_body)

    assert (status, answer["error"]["code"]) == (404, "pipeline_not_found")
    status, read = api("GetPipelineFunction", owner, path=path)
    assert (status, read["name"], read["version"]) == (200, "doubler", 1)


def test_an_unknown_id_is_404_and_a_malformed_one_422(api, make_user_id):
    user = make_user_id()

    status, answer = api("GetPipelineFunction", user, path={"pipeline_id": str(uuid4())})
    assert (status, answer["error"]["code"]) == (404, "pipeline_not_found")
    status, answer = api("GetPipelineFunction", user, path={"pipeline_id": "not-a-uuid"})
    assert status == 422 and answer["error"]["details"][0]["field"] == "path.pipeline_id"


def test_the_list_is_paged_newest_first_without_definitions(api, make_user_id):
    user = make_user_id()
    ids = [create(api, user, name=f"p-{index}")[1]["pipeline_id"] for index in range(5)]
    create(api, make_user_id(), name="someone else's")

    status, first = api("ListPipelinesFunction", user, query={"limit": "2"})
    assert status == 200, first
    _, second = api("ListPipelinesFunction", user, query={"limit": "2", "cursor": first["next_cursor"]})
    _, third = api("ListPipelinesFunction", user, query={"limit": "2", "cursor": second["next_cursor"]})

    listed = [pipeline["pipeline_id"] for page in (first, second, third) for pipeline in page["pipelines"]]
    assert listed == list(reversed(ids)) and third["next_cursor"] is None
    assert set(first["pipelines"][0]) == {
        "pipeline_id",
        "name",
        "description",
        "version",
        "created_at",
        "updated_at",
    }


def test_a_forged_cursor_is_422(api, make_user_id):
    status, answer = api("ListPipelinesFunction", make_user_id(), query={"cursor": "bm90LWEtY3Vyc29y"})

    assert (status, answer["error"]["code"]) == (422, "invalid_cursor")


def test_without_a_token_it_is_401(api):
    status, answer = api("ListPipelinesFunction", None)

    assert (status, answer["error"]["code"]) == (401, "token_missing")


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"definition": definition()}, "body.name"),
        ({"name": "   ", "definition": definition()}, "body.name"),
        ({"name": "x" * 201, "definition": definition()}, "body.name"),
        ({"name": "x"}, "body.definition"),
        ({"name": "x", "definition": []}, "body.definition"),
        ({"name": "x", "definition": definition(), "parameters_schema": True}, "body.parameters_schema"),
        (
            {"name": "x", "definition": definition(), "parameters_schema": {"enum": ["y" * 70_000]}},
            "body.parameters_schema",
        ),
        ({"name": "x", "definition": definition(), "owner": "me"}, "body.owner"),
    ],
)
def test_request_bodies_are_checked(api, make_user_id, request_body, field):
    status, answer = api("CreatePipelineFunction", make_user_id(), body=request_body)

    assert status == 422
    assert field in [item["field"] for item in answer["error"]["details"]]


# ---------------------------------------------------------------- each rule, by its path


def _invalid(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = definition()
    mutate(document)
    return document


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        container = document
        for key in path[:-1]:
            container = container[key]
        container[path[-1]] = value

    return mutate


def _add(step: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda document: document["steps"].append(step)


def _cycle(document: dict[str, Any]) -> None:
    # t waits for summary, which waits (through big) for t.
    document["steps"][0]["depends_on"] = ["summary"]


def _fifty_one(document: dict[str, Any]) -> None:
    document["steps"] = [
        {"id": f"s{index}", "kind": "tool", "tool": "calculator", "arguments": {}} for index in range(51)
    ]


STEPS = "body.definition.steps"


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (_set(("steps", 1, "id"), "t"), f"{STEPS}[1].id", "is the id of steps[0] already"),
        (_set(("steps", 1, "id"), "2x"), f"{STEPS}[1].id", "a step id is an identifier"),
        (_set(("steps", 1, "id"), "class"), f"{STEPS}[1].id", "not a Python keyword"),
        (_set(("steps", 3, "depends_on"), ["m", "nobody"]), f"{STEPS}[3].depends_on[1]", "no step 'nobody'"),
        (_set(("steps", 3, "depends_on"), ["m", "m"]), f"{STEPS}[3].depends_on[1]", "listed twice"),
        (_set(("steps", 0, "depends_on"), ["t"]), f"{STEPS}[0].depends_on[0]", "cannot depend on itself"),
        (_cycle, f"{STEPS}[0].depends_on[0]", "in a cycle: t -> summary -> big -> t"),
        (_fifty_one, STEPS, "at most 50 items"),
        (_set(("steps", 3, "prompt"), "Hi {parameters.topic"), f"{STEPS}[3].prompt", "unclosed {"),
        (_set(("steps", 3, "prompt"), "{secrets.key}"), f"{STEPS}[3].prompt", "unknown root 'secrets'"),
        (_set(("steps", 3, "prompt"), "{parameters.nope}"), f"{STEPS}[3].prompt", "no parameter 'nope'"),
        (_set(("steps", 1, "step", "tool"), "shell"), f"{STEPS}[1].step.tool", "unknown tool 'shell'"),
        (_set(("steps", 3, "prompt"), "{steps.ghost.output}"), f"{STEPS}[3].prompt", "no step 'ghost'"),
        (_set(("steps", 3, "prompt"), "{steps.big.output}"), f"{STEPS}[3].prompt", "'big' is a condition"),
        (_set(("steps", 3, "prompt"), "{steps.m}"), f"{STEPS}[3].prompt", "name the step's output"),
        (_set(("steps", 3, "prompt"), "{item}"), f"{STEPS}[3].prompt", "only a map's inner step"),
        (
            _set(("steps", 0, "arguments", "expression"), "{steps.summary.output}"),
            f"{STEPS}[0].arguments.expression",
            "'t' does not wait for 'summary'",
        ),
        (_set(("steps", 1, "over"), "{parameters.topic}"), f"{STEPS}[1].over", "a map needs a list"),
        (_set(("steps", 1, "over"), "items: {parameters.items}"), f"{STEPS}[1].over", "one placeholder"),
        (_set(("steps", 1, "over"), "{steps.t.output}"), f"{STEPS}[1].over", "'m' does not wait for 't'"),
        (_set(("steps", 1, "over"), "{item}"), f"{STEPS}[1].over", "only a map's inner step"),
        (_set(("steps", 1, "concurrency"), 21), f"{STEPS}[1].concurrency", "less than or equal to 20"),
        (_set(("steps", 1, "retries"), 2), f"{STEPS}[1].retries", "set retries on step"),
        (_set(("steps", 1, "step", "id"), "inner"), f"{STEPS}[1].step.id", "has no id or depends_on"),
        (
            _set(("steps", 1, "step"), copy.deepcopy(MAP_STEP)),
            f"{STEPS}[1].step",
            "does not match any of the expected tags",
        ),
        (
            _set(("steps", 1, "step", "arguments"), {"expression": "{steps.summary.output}"}),
            f"{STEPS}[1].step.arguments.expression",
            "'m' does not wait for 'summary'",
        ),
        (_set(("steps", 2, "expression"), "2 ** 8"), f"{STEPS}[2].expression", "** is not allowed"),
        (
            _set(("steps", 2, "expression"), "steps.m.output == []"),
            f"{STEPS}[2].expression",
            "'big' does not wait for 'm'",
        ),
        (_set(("steps", 2, "cache"), True), f"{STEPS}[2].cache", "a condition is evaluated"),
        (_set(("steps", 3, "retries"), 11), f"{STEPS}[3].retries", "less than or equal to 10"),
        (_set(("steps", 3, "retry_delay_seconds"), 3601), f"{STEPS}[3].retry_delay_seconds", "3600"),
        (
            _set(("steps", 3, "timeout_seconds"), 0),
            f"{STEPS}[3].timeout_seconds",
            "greater than or equal to 1",
        ),
        (_set(("steps", 3, "timeout_seconds"), 901), f"{STEPS}[3].timeout_seconds", "900"),
        (_set(("steps", 3, "kind"), "shell"), f"{STEPS}[3]", "does not match any of the expected tags"),
        (_set(("output",), {"x": "{steps.ghost.output}"}), "body.definition.output.x", "no step 'ghost'"),
        (_set(("steps", 0, "tool"), "shell"), f"{STEPS}[0].tool", "unknown tool 'shell'"),
        (_set(("steps", 3, "model"), "openai/gpt-9"), f"{STEPS}[3].model", "no model 'openai/gpt-9'"),
        (
            _add({"id": "w", "kind": "workflow", "workflow_id": str(uuid4())}),
            f"{STEPS}[4].workflow_id",
            "no workflow of yours",
        ),
        (
            _add({"id": "team", "kind": "team", "team_id": str(uuid4()), "task_description": "Go"}),
            f"{STEPS}[4].team_id",
            "no team of yours",
        ),
        (
            _add({"id": "call", "kind": "mcp_tool", "connection": "nowhere", "tool": "echo"}),
            f"{STEPS}[4].connection",
            "no MCP connection named 'nowhere'",
        ),
        (
            _add({"id": "call", "kind": "mcp_tool", "connection": "bad name", "tool": "echo"}),
            f"{STEPS}[4].connection",
            "should match pattern",
        ),
    ],
)
def test_each_rule_is_422_naming_the_path(api, make_user_id, mutate, field, message):
    status, answer = create(api, make_user_id(), definition=_invalid(mutate))

    assert status == 422, answer
    assert answer["error"]["code"] == "validation_failed"
    matching = [item for item in answer["error"]["details"] if item["field"] == field]
    assert matching and message in matching[0]["message"], answer["error"]["details"]


@pytest.mark.parametrize(
    ("schema", "field", "message"),
    [
        ({"type": 5}, "body.parameters_schema.type", "not a valid JSON schema"),
        ({"type": "array"}, "body.parameters_schema.type", "its type is object"),
        (
            {"type": "object", "properties": {"items": {"type": "string", "pattern": "^(a)\\1$"}}},
            "body.parameters_schema.properties.items.pattern",
            "not supported",
        ),
        ({"$ref": "https://example.com/schema.json"}, "body.parameters_schema.$ref", "outside the schema"),
    ],
)
def test_the_parameters_schema_is_checked_with_its_path(api, make_user_id, schema, field, message):
    status, answer = create(api, make_user_id(), parameters_schema=schema)

    assert status == 422, answer
    matching = [item for item in answer["error"]["details"] if item["field"] == field]
    assert matching and message in matching[0]["message"], answer["error"]["details"]


def test_every_problem_is_reported_at_once(api, make_user_id):
    broken = definition()
    broken["steps"][0]["tool"] = "shell"
    broken["steps"][1]["over"] = "{steps.summary.output}"
    broken["steps"][3]["depends_on"] = ["m", "nobody"]

    status, answer = create(api, make_user_id(), definition=broken, parameters_schema={"type": "array"})

    assert status == 422
    assert answer["error"]["message"] == "The pipeline has 4 problems"
    assert [item["field"] for item in answer["error"]["details"]] == [
        "body.parameters_schema.type",
        f"{STEPS}[3].depends_on[1]",
        f"{STEPS}[1].over",
        f"{STEPS}[0].tool",
    ]


def test_a_step_reads_what_it_waits_for_through_other_steps(api, make_user_id):
    document = definition()
    # summary waits for big, which waits for t.
    document["steps"][3]["prompt"] = "{steps.t.output} and {steps.m.output[0]}"

    status, created = create(api, make_user_id(), definition=document)

    assert status == 201, created


def test_without_a_parameters_schema_any_parameter_may_be_named(api, make_user_id):
    document = definition()
    document["steps"][3]["prompt"] = "{parameters.anything.at[0].all}"

    status, created = create(api, make_user_id(), parameters_schema=None, definition=document)

    assert status == 201, created


def test_max_tokens_over_the_cap_alone_is_max_tokens_too_large(api, make_user_id):
    document = definition()
    document["steps"][3]["max_tokens"] = 100_000

    status, answer = create(api, make_user_id(), definition=document)

    assert (status, answer["error"]["code"]) == (422, "max_tokens_too_large")
    assert answer["error"]["details"][0]["field"] == f"{STEPS}[3].max_tokens"

"""The teams API over its handlers: create, list, read, replace, delete, members, across users."""

from __future__ import annotations

import copy
from typing import Any
from uuid import uuid4

import pytest

from auralink.agents.teams.service import get_definition, runnable_definition
from auralink.errors import NotFound, ValidationFailed

MINIMAL = {
    "team_name": "Research Team",
    "description": "Collaborative research agents",
    "collaboration_mode": "sequential",
}


def swarm(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "team_name": "support",
        "description": "Triage, then billing or the person",
        "framework": "autogen",
        "collaboration_mode": "swarm",
        "members": [
            {
                "name": "triage",
                "description": "Reads the request and hands it on",
                "system_message": "Hand billing questions to billing; ask the user when unsure.",
                "handoffs": ["billing", "user"],
                "model": "openai/gpt-5.4-mini",
            },
            {"name": "billing", "description": "Answers billing questions", "tools": ["calculator"]},
        ],
        "termination": {"max_messages": 12, "text_mention": "TERMINATE"},
    }
    body.update(changes)
    return body


def crew(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "team_name": "writers",
        "collaboration_mode": "sequential",
        "members": [
            {"name": "researcher", "role": "Researcher", "goal": "Find facts", "backstory": "A librarian"},
            {"name": "writer", "role": "Writer", "goal": "Write", "backstory": "A journalist", "max_iter": 5},
        ],
        "tasks": [
            {
                "name": "research",
                "description": "Research {task_description}",
                "expected_output": "Facts",
                "agent": "researcher",
            },
            {
                "name": "write",
                "description": "Write it up",
                "expected_output": "A summary",
                "agent": "writer",
                "context": ["research"],
                "human_input": True,
            },
        ],
    }
    body.update(changes)
    return body


def graph(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "team_name": "review-loop",
        "collaboration_mode": "graph",
        "members": [
            {"name": "writer", "description": "Writes"},
            {"name": "critic", "description": "Reviews"},
            {"name": "editor", "description": "Publishes"},
        ],
        "edges": [
            {"from": "writer", "to": "critic"},
            {"from": "critic", "to": "writer", "condition": "REVISE"},
            {"from": "critic", "to": "editor", "condition": "APPROVE"},
        ],
        "entry": "writer",
    }
    body.update(changes)
    return body


def create(api, user, body):
    return api("CreateTeamFunction", user, body=body)


def test_the_minimal_team_of_the_api_contract_is_a_crew(api, make_user_id):
    user = make_user_id()

    status, created = create(api, user, MINIMAL)

    assert status == 201, created
    assert {key: created[key] for key in MINIMAL} == MINIMAL
    assert created["framework"] == "crewai" and created["members"] == [] and created["tasks"] == []
    assert created["termination"] == {
        "max_messages": 20,
        "text_mention": None,
        "timeout_seconds": 900,
        "max_cost_usd": 1.0,
    }
    status, read = api("GetTeamFunction", user, path={"team_id": created["team_id"]})
    assert (status, read) == (200, created)


def test_a_mode_without_a_framework_decides_it(api, make_user_id):
    status, created = create(api, make_user_id(), {"team_name": "chat", "collaboration_mode": "round_robin"})

    assert (status, created["framework"]) == (201, "autogen")


def test_a_full_swarm_is_stored_normalised(api, make_user_id):
    user = make_user_id()

    status, created = create(api, user, swarm())

    assert status == 201, created
    triage, billing = created["members"]
    assert triage["handoffs"] == ["billing", "user"] and triage["model"] == "openai/gpt-5.4-mini"
    assert (
        billing["handoffs"] == [] and billing["tools"] == ["calculator"] and billing["system_message"] is None
    )
    assert billing["role"] is None and billing["max_iter"] is None
    assert (
        created["termination"]["max_messages"] == 12 and created["termination"]["text_mention"] == "TERMINATE"
    )
    definition = get_definition(user, created["team_id"])
    assert definition.member("triage").handoffs == ["billing", "user"]
    assert runnable_definition(user, created["team_id"]).collaboration_mode == "swarm"


def test_a_full_crew_is_stored_with_its_tasks(api, make_user_id):
    user = make_user_id()

    status, created = create(api, user, crew())

    assert status == 201, created
    researcher, writer = created["members"]
    assert (researcher["allow_delegation"], researcher["max_iter"]) == (False, 15)
    assert (writer["max_iter"], writer["description"], writer["handoffs"]) == (5, None, None)
    assert [task["name"] for task in created["tasks"]] == ["research", "write"]
    assert created["tasks"][1]["context"] == ["research"] and created["tasks"][1]["human_input"] is True
    assert get_definition(user, created["team_id"]).tasks[0].agent == "researcher"


def test_a_graph_keeps_its_edges_and_conditions(api, make_user_id):
    status, created = create(api, make_user_id(), graph())

    assert status == 201, created
    assert created["edges"][1] == {"from": "critic", "to": "writer", "condition": "REVISE"}
    assert created["edges"][0] == {"from": "writer", "to": "critic", "condition": None}


def test_a_taken_name_is_409_but_not_for_another_user(api, make_user_id):
    user = make_user_id()
    assert create(api, user, MINIMAL)[0] == 201

    status, body = create(api, user, MINIMAL)

    assert (status, body["error"]["code"]) == (409, "team_name_taken")
    assert create(api, make_user_id(), MINIMAL)[0] == 201


def test_the_list_is_paged_newest_first(api, make_user_id):
    user = make_user_id()
    ids = [create(api, user, {**MINIMAL, "team_name": f"team-{index}"})[1]["team_id"] for index in range(5)]
    create(api, user, swarm(team_name="with-members"))
    create(api, make_user_id(), MINIMAL)

    status, first = api("ListTeamsFunction", user, query={"limit": "3"})
    assert status == 200, first
    _, second = api("ListTeamsFunction", user, query={"limit": "3", "cursor": first["next_cursor"]})

    listed = [team["team_id"] for page in (first, second) for team in page["teams"]]
    assert listed[1:] == list(reversed(ids)) and second["next_cursor"] is None
    newest = first["teams"][0]
    assert (newest["team_name"], newest["member_count"], newest["framework"]) == (
        "with-members",
        2,
        "autogen",
    )
    assert set(newest) == {
        "team_id",
        "team_name",
        "description",
        "framework",
        "collaboration_mode",
        "member_count",
        "created_at",
        "updated_at",
    }
    status, body = api("ListTeamsFunction", user, query={"cursor": "bm90LWEtY3Vyc29y"})
    assert (status, body["error"]["code"]) == (422, "invalid_cursor")


def test_replace_changes_everything_and_keeps_members_left_out(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user, swarm())
    path = {"team_id": created["team_id"]}

    body = swarm(team_name="support-2", termination={"max_messages": 30})
    del body["members"]
    status, replaced = api("UpdateTeamFunction", user, path=path, body=body)

    assert status == 200, replaced
    assert replaced["team_name"] == "support-2" and replaced["termination"]["max_messages"] == 30
    assert [member["name"] for member in replaced["members"]] == ["triage", "billing"]
    assert replaced["updated_at"] > created["updated_at"]

    status, replaced = api(
        "UpdateTeamFunction",
        user,
        path=path,
        body={"team_name": "support-2", "collaboration_mode": "round_robin", "members": []},
    )
    assert (status, replaced["members"], replaced["collaboration_mode"]) == (200, [], "round_robin")


def test_replace_checks_the_members_it_keeps(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user, swarm())

    # A round robin has no handoffs: the kept member's are named where they are, in the team.
    status, body = api(
        "UpdateTeamFunction",
        user,
        path={"team_id": created["team_id"]},
        body={"team_name": "support", "collaboration_mode": "round_robin"},
    )

    assert status == 422, body
    assert [item["field"] for item in body["error"]["details"]] == ["team.members[0].handoffs"]
    assert (
        api("GetTeamFunction", user, path={"team_id": created["team_id"]})[1]["collaboration_mode"] == "swarm"
    )


def test_delete_then_it_is_gone_with_its_members(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user, swarm())
    path = {"team_id": created["team_id"]}

    assert api("DeleteTeamFunction", user, path=path) == (204, None)

    for function_id in ("GetTeamFunction", "ListTeamMembersFunction", "DeleteTeamFunction"):
        status, body = api(function_id, user, path=path)
        assert (status, body["error"]["code"]) == (404, "team_not_found")


def test_an_unknown_id_is_404_and_a_malformed_one_422(api, make_user_id):
    user = make_user_id()

    status, body = api("GetTeamFunction", user, path={"team_id": str(uuid4())})
    assert (status, body["error"]["code"]) == (404, "team_not_found")
    status, body = api("GetTeamFunction", user, path={"team_id": "not-a-uuid"})
    assert status == 422 and body["error"]["details"][0]["field"] == "path.team_id"
    with pytest.raises(NotFound):
        get_definition(user, "not-a-uuid")


def test_without_a_token_it_is_401(api):
    status, body = api("ListTeamsFunction", None)

    assert (status, body["error"]["code"]) == (401, "token_missing")


# ---------------------------------------------------------------- members


def test_members_are_added_listed_replaced_and_removed(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user, {"team_name": "chat", "collaboration_mode": "selector"})
    path = {"team_id": created["team_id"]}

    status, added = api(
        "AddTeamMemberFunction", user, path=path, body={"name": "planner", "description": "Plans"}
    )
    assert status == 201, added
    assert added["handoffs"] == [] and added["tools"] == []
    api("AddTeamMemberFunction", user, path=path, body={"name": "coder", "description": "Codes"})

    status, listed = api("ListTeamMembersFunction", user, path=path)
    assert status == 200 and [member["name"] for member in listed["members"]] == ["planner", "coder"]

    status, replaced = api(
        "UpdateTeamMemberFunction",
        user,
        path={**path, "name": "planner"},
        body={"name": "architect", "description": "Designs", "tools": ["calculator"]},
    )
    assert status == 200, replaced
    _, team = api("GetTeamFunction", user, path=path)
    assert [member["name"] for member in team["members"]] == ["architect", "coder"]
    assert team["members"][0]["tools"] == ["calculator"] and team["updated_at"] > created["updated_at"]

    assert api("DeleteTeamMemberFunction", user, path={**path, "name": "coder"}) == (204, None)
    status, body = api("DeleteTeamMemberFunction", user, path={**path, "name": "coder"})
    assert (status, body["error"]["code"]) == (404, "team_member_not_found")
    status, body = api(
        "UpdateTeamMemberFunction",
        user,
        path={**path, "name": "coder"},
        body={"name": "coder", "description": "x"},
    )
    assert (status, body["error"]["code"]) == (404, "team_member_not_found")


def test_a_member_name_taken_is_409(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user, swarm())
    path = {"team_id": created["team_id"]}

    status, body = api(
        "AddTeamMemberFunction", user, path=path, body={"name": "billing", "description": "Again"}
    )
    assert (status, body["error"]["code"]) == (409, "team_member_name_taken")

    status, body = api(
        "UpdateTeamMemberFunction",
        user,
        path={**path, "name": "billing"},
        body={"name": "triage", "description": "x"},
    )
    assert (status, body["error"]["code"]) == (409, "team_member_name_taken")


def test_a_member_change_is_checked_with_its_team(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user, swarm())
    path = {"team_id": created["team_id"]}

    # Its own problems under body, what it breaks elsewhere under team.
    status, body = api(
        "UpdateTeamMemberFunction",
        user,
        path={**path, "name": "billing"},
        body={"name": "accounts", "description": "Billing", "handoffs": ["nobody"], "tools": ["shell"]},
    )

    assert status == 422, body
    fields = {item["field"]: item["message"] for item in body["error"]["details"]}
    assert set(fields) == {"body.handoffs[0]", "team.members[0].handoffs[0]", "body.tools[0]"}
    assert "no member 'billing'" in fields["team.members[0].handoffs[0]"]
    assert "unknown tool 'shell'" in fields["body.tools[0]"]


def test_a_member_named_elsewhere_in_the_team_cannot_be_removed(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user, graph())

    status, body = api(
        "DeleteTeamMemberFunction", user, path={"team_id": created["team_id"], "name": "editor"}
    )

    assert (status, body["error"]["code"]) == (409, "team_member_in_use")
    assert [item["field"] for item in body["error"]["details"]] == ["team.edges[2].to"]


def test_a_crew_member_needs_its_fields(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user, MINIMAL)

    status, body = api(
        "AddTeamMemberFunction",
        user,
        path={"team_id": created["team_id"]},
        body={"name": "analyst", "description": "Analyses", "role": "Analyst"},
    )

    assert status == 422, body
    assert [item["field"] for item in body["error"]["details"]] == [
        "body.description",
        "body.goal",
        "body.backstory",
    ]


@pytest.mark.parametrize(
    ("function_id", "body", "name"),
    [
        ("GetTeamFunction", None, None),
        ("UpdateTeamFunction", {"team_name": "mine now", "collaboration_mode": "round_robin"}, None),
        ("DeleteTeamFunction", None, None),
        ("ListTeamMembersFunction", None, None),
        ("AddTeamMemberFunction", {"name": "spy", "description": "Listens"}, None),
        ("UpdateTeamMemberFunction", {"name": "billing", "description": "Mine"}, "billing"),
        ("DeleteTeamMemberFunction", None, "billing"),
    ],
)
def test_another_users_team_and_members_are_404(api, make_user_id, function_id, body, name):
    owner, stranger = make_user_id("owner"), make_user_id("stranger")
    _, created = create(api, owner, swarm())
    path = {"team_id": created["team_id"], **({"name": name} if name else {})}

    status, answer = api(function_id, stranger, path=path, body=body)

    assert (status, answer["error"]["code"]) == (404, "team_not_found")
    status, read = api("GetTeamFunction", owner, path={"team_id": created["team_id"]})
    assert (status, read) == (200, created)
    with pytest.raises(NotFound):
        get_definition(stranger, created["team_id"])


# ---------------------------------------------------------------- validation


def _changed(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    container = changed
    for key in path[:-1]:
        container = container[key]
    container[path[-1]] = value
    return changed


INVALID = [
    (_changed(swarm(), ("members", 1, "name"), "triage"), "body.members[1].name", "used by members[0]"),
    (_changed(swarm(), ("members", 1, "name"), "2fast"), "body.members[1].name", "identifier"),
    (_changed(swarm(), ("members", 1, "name"), "user"), "body.members[1].name", "reserved"),
    (_changed(swarm(), ("members", 1, "name"), "with space"), "body.members[1].name", "identifier"),
    (
        _changed(swarm(), ("members", 0, "handoffs"), ["nobody"]),
        "body.members[0].handoffs[0]",
        "no member 'nobody'",
    ),
    (_changed(swarm(), ("members", 0, "handoffs"), ["triage"]), "body.members[0].handoffs[0]", "itself"),
    (
        _changed(swarm(), ("members", 0, "tools"), ["shell"]),
        "body.members[0].tools[0]",
        "unknown tool 'shell'",
    ),
    (
        _changed(swarm(), ("members", 0, "tools"), ["mcp:nowhere/search"]),
        "body.members[0].tools[0]",
        "no MCP connection named 'nowhere'",
    ),
    (
        _changed(swarm(), ("members", 0, "model"), "openai/gpt-9"),
        "body.members[0].model",
        "no model 'openai/gpt-9'",
    ),
    (_changed(swarm(), ("members",), swarm()["members"][:1]), "body.members", "two members or more"),
    (
        swarm(collaboration_mode="selector", members=swarm()["members"][1:]),
        "body.members",
        "two members or more",
    ),
    (swarm(collaboration_mode="round_robin"), "body.members[0].handoffs", "handoffs are for swarm teams"),
    (swarm(collaboration_mode="sequential"), "body.collaboration_mode", "not a mode of autogen teams"),
    (crew(framework="autogen"), "body.collaboration_mode", "not a mode of autogen teams"),
    (
        _changed(swarm(), ("members", 0, "role"), "Boss"),
        "body.members[0].role",
        "not a field of autogen members",
    ),
    (
        _changed(swarm(), ("members", 1, "description"), None),
        "body.members[1].description",
        "need a description",
    ),
    (swarm(manager_model="openai/gpt-5.4-mini"), "body.manager_model", "selector"),
    (swarm(manager_model="openai/gpt-9", collaboration_mode="selector"), "body.manager_model", "no model"),
    (_changed(graph(), ("edges", 0, "to"), "nobody"), "body.edges[0].to", "no member 'nobody'"),
    (_changed(graph(), ("edges", 0, "from"), "nobody"), "body.edges[0].from", "no member 'nobody'"),
    (
        _changed(graph(), ("edges", 2), {"from": "critic", "to": "writer", "condition": "REVISE"}),
        "body.edges[2]",
        "same edge",
    ),
    (
        _changed(graph(), ("edges", 2, "condition"), None),
        "body.edges[2].condition",
        "all have a condition or none",
    ),
    (graph(entry=None), "body.edges", "no start"),
    (graph(entry="nobody"), "body.entry", "no member 'nobody'"),
    (swarm(entry="triage"), "body.entry", "entry is for graph teams"),
    (
        graph(edges=[{"from": "writer", "to": "critic"}, {"from": "critic", "to": "writer"}]),
        "body.edges",
        "the cycle writer -> critic -> writer has no condition",
    ),
    (
        graph(
            members=graph()["members"][:2],
            edges=[{"from": "writer", "to": "critic"}, {"from": "critic", "to": "writer", "condition": "X"}],
        ),
        "body.edges",
        "no exit",
    ),
    (swarm(edges=graph()["edges"]), "body.edges", "edges are for graph teams"),
    (swarm(tasks=crew()["tasks"]), "body.tasks", "tasks are for crewai teams"),
    (_changed(crew(), ("tasks", 0, "agent"), "nobody"), "body.tasks[0].agent", "no member 'nobody'"),
    (_changed(crew(), ("tasks", 0, "agent"), None), "body.tasks[0].agent", "names its agent"),
    (
        _changed(crew(), ("tasks", 1, "context"), ["later"]),
        "body.tasks[1].context[0]",
        "no task 'later' before",
    ),
    (_changed(crew(), ("tasks", 1, "context"), ["write"]), "body.tasks[1].context[0]", "its own context"),
    (_changed(crew(), ("tasks", 1, "name"), "research"), "body.tasks[1].name", "used by tasks[0]"),
    (
        _changed(crew(), ("members", 0, "handoffs"), ["writer"]),
        "body.members[0].handoffs",
        "not a field of crewai",
    ),
    (_changed(crew(), ("members", 0, "goal"), None), "body.members[0].goal", "need a goal"),
    (crew(termination={"text_mention": "DONE"}), "body.termination.text_mention", "for autogen teams"),
    (
        _changed(crew(), ("tasks", 0, "description"), "Research {topic} for {task_description}"),
        "body.tasks[0].description",
        "{topic}: a crew's texts are given {task_description} and {additional_context} only",
    ),
    (_changed(crew(), ("members", 1, "goal"), "Write on {subject}"), "body.members[1].goal", "{subject}"),
    (
        _changed(crew(), ("members", 1, "role"), crew()["members"][0]["role"].upper()),
        "body.members[1].role",
        "the role is members[0]'s",
    ),
]


@pytest.mark.parametrize(("body", "field", "message"), INVALID)
def test_each_rule_is_422_naming_its_path(api, make_user_id, body, field, message):
    status, answer = create(api, make_user_id(), body)

    assert status == 422, answer
    assert answer["error"]["code"] == "validation_failed"
    matching = [item for item in answer["error"]["details"] if item["field"] == field]
    assert matching and message in matching[0]["message"], answer["error"]["details"]


def test_a_hierarchical_crew_may_leave_tasks_to_its_manager(api, make_user_id):
    body = crew(collaboration_mode="hierarchical", manager_model="openai/gpt-5.4-mini")
    body["tasks"][0]["agent"] = None

    status, created = create(api, make_user_id(), body)

    assert status == 201, created
    assert created["manager_model"] == "openai/gpt-5.4-mini" and created["tasks"][0]["agent"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"collaboration_mode": "sequential"}, "body.team_name"),
        ({"team_name": "x"}, "body.collaboration_mode"),
        ({"team_name": "x", "collaboration_mode": "chaos"}, "body.collaboration_mode"),
        ({"team_name": "x", "collaboration_mode": "swarm", "framework": "langgraph"}, "body.framework"),
        (
            {"team_name": "x", "collaboration_mode": "swarm", "termination": {"max_messages": 0}},
            "body.termination.max_messages",
        ),
        (
            {"team_name": "x", "collaboration_mode": "swarm", "termination": {"timeout_seconds": 86400}},
            "body.termination.timeout_seconds",
        ),
        (
            {"team_name": "x", "collaboration_mode": "swarm", "termination": {"max_cost_usd": 0}},
            "body.termination.max_cost_usd",
        ),
        ({"team_name": "x", "collaboration_mode": "swarm", "owner": "me"}, "body.owner"),
        (
            {"team_name": "x", "collaboration_mode": "swarm", "members": [{"name": "a", "provider": "x.y"}]},
            "body.members.0.provider",
        ),
    ],
)
def test_request_bodies_are_checked(api, make_user_id, body, field):
    status, answer = create(api, make_user_id(), body)

    assert status == 422
    assert field in [item["field"] for item in answer["error"]["details"]], answer


def test_a_team_that_cannot_run_yet_says_why(api, make_user_id):
    user = make_user_id()
    _, created = create(api, user, {"team_name": "chat", "collaboration_mode": "swarm"})
    path = {"team_id": created["team_id"]}

    with pytest.raises(ValidationFailed) as empty:
        runnable_definition(user, created["team_id"])
    api("AddTeamMemberFunction", user, path=path, body={"name": "solo", "description": "Alone"})
    with pytest.raises(ValidationFailed) as alone:
        runnable_definition(user, created["team_id"])

    assert [item["field"] for item in empty.value.details] == ["team.members"]
    assert [item["field"] for item in alone.value.details] == ["team.members", "team.members[0].handoffs"]

"""What a stored team needs before it can run, and the checks of a definition without I/O."""

from __future__ import annotations

from typing import Any

import pytest

from auralink.agents.teams.models import TeamDefinition
from auralink.agents.teams.validation import definition_problems, runnable_problems


def team(mode: str, *members: dict[str, Any], framework: str = "autogen", **changes: Any) -> TeamDefinition:
    return TeamDefinition.model_validate(
        {"framework": framework, "collaboration_mode": mode, "members": list(members), **changes}
    )


def agent(name: str, **changes: Any) -> dict[str, Any]:
    return {"name": name, "description": f"{name} works", **changes}


def crew_member(name: str) -> dict[str, Any]:
    return {"name": name, "role": name.title(), "goal": "Help", "backstory": "Experienced"}


def fields(problems: list[dict[str, str]]) -> list[str]:
    return [problem["field"] for problem in problems]


@pytest.mark.parametrize(
    "definition",
    [
        team("round_robin", agent("a")),
        team("selector", agent("a"), agent("b")),
        team("swarm", agent("a", handoffs=["b"]), agent("b")),
        team("swarm", agent("a", handoffs=["user"]), agent("b")),
        team("graph", agent("a"), agent("b"), edges=[{"from": "a", "to": "b"}]),
        team("sequential", crew_member("writer"), framework="crewai"),
        team("hierarchical", crew_member("writer"), framework="crewai"),
    ],
)
def test_a_team_with_the_members_its_mode_needs_can_run(definition):
    assert runnable_problems(definition) == []


def test_a_team_without_members_cannot_run():
    problems = runnable_problems(team("sequential", framework="crewai"))

    assert fields(problems) == ["team.members"]
    assert "no members" in problems[0]["message"] and "/members" in problems[0]["message"]


@pytest.mark.parametrize("mode", ["selector", "swarm"])
def test_selector_and_swarm_need_two_members(mode):
    problems = runnable_problems(team(mode, agent("a", handoffs=["user"] if mode == "swarm" else None)))

    assert fields(problems) == ["team.members"]
    assert f"a {mode} team needs two members or more; it has 1" == problems[0]["message"]


def test_a_swarm_starts_with_a_member_that_can_hand_off():
    problems = runnable_problems(team("swarm", agent("a"), agent("b", handoffs=["a"])))

    assert fields(problems) == ["team.members[0].handoffs"]


def test_members_added_one_by_one_are_not_counted_on_save():
    definition = team("selector", agent("a"))

    assert fields(definition_problems(definition)) == ["body.members"]
    assert definition_problems(definition, counts=False) == []
    assert fields(runnable_problems(definition)) == ["team.members"]


def test_problems_are_named_under_the_root_asked_for():
    definition = team("swarm", agent("a", handoffs=["ghost"]), agent("b"))

    assert fields(definition_problems(definition, root="team")) == ["team.members[0].handoffs[0]"]


def test_a_cycle_with_a_condition_on_one_edge_can_end():
    definition = team(
        "graph",
        agent("a"),
        agent("b"),
        agent("c"),
        edges=[
            {"from": "a", "to": "b"},
            {"from": "b", "to": "a", "condition": "AGAIN"},
            {"from": "b", "to": "c", "condition": "DONE"},
        ],
        entry="a",
    )

    assert definition_problems(definition) == []


def test_a_self_loop_without_a_condition_never_ends():
    definition = team(
        "graph", agent("a"), agent("b"), edges=[{"from": "a", "to": "a"}, {"from": "b", "to": "a"}]
    )

    problems = definition_problems(definition)

    assert [problem["message"] for problem in problems if "cycle" in problem["message"]] == [
        "the cycle a -> a has no condition on its edges: it would never end"
    ]

"""The graph checks of pipelines: what each step waits for, and the cycles named step by step."""

from __future__ import annotations

import pytest

from auralink.agents.pipelines.graph import cycles, upstream


def test_upstream_is_transitive_and_ignores_unknown_and_self_dependencies():
    graph = {"a": [], "b": ["a", "ghost"], "c": ["b", "c"], "d": ["a"]}

    assert upstream(graph) == {"a": set(), "b": {"a"}, "c": {"a", "b"}, "d": {"a"}}


def test_a_graph_without_cycles_has_none():
    assert cycles({"a": [], "b": ["a"], "c": ["a", "b"], "d": ["c", "ghost", "d"]}) == []


@pytest.mark.parametrize(
    ("graph", "found"),
    [
        ({"a": ["b"], "b": ["a"]}, [["a", "b", "a"]]),
        ({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}, [["a", "b", "c", "a"]]),
        # The shortest way back, from the group's first step.
        ({"x": [], "a": ["b", "c"], "b": ["c"], "c": ["a"]}, [["a", "c", "a"]]),
        # One cycle per group of steps that wait for one another.
        (
            {"a": ["b"], "b": ["a"], "c": ["d"], "d": ["e"], "e": ["c"]},
            [["a", "b", "a"], ["c", "d", "e", "c"]],
        ),
        # A step that only leads into a cycle is not on it.
        ({"entry": ["a"], "a": ["b"], "b": ["a"]}, [["a", "b", "a"]]),
    ],
)
def test_each_cycle_is_named_from_its_first_step(graph, found):
    assert cycles(graph) == found


def test_fifty_steps_in_one_cycle_are_named_at_once():
    graph = {f"s{index}": [f"s{(index + 1) % 50}"] for index in range(50)}

    (cycle,) = cycles(graph)

    assert cycle == [f"s{index}" for index in range(50)] + ["s0"]

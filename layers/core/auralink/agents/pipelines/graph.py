"""The order of a pipeline's steps: what each waits for, directly or not, and the cycles that would
keep steps waiting forever.

The graph is given as ``{step id: [ids it depends on]}``. Dependencies on ids that are not keys
(unknown steps, reported elsewhere) and on the step itself are left out here, so that every
function answers for any input.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

Graph = Mapping[str, Sequence[str]]


def _edges(graph: Graph, step: str) -> list[str]:
    return [other for other in graph[step] if other in graph and other != step]


def upstream(graph: Graph) -> dict[str, set[str]]:
    """Every step's transitive dependencies: the steps that must finish before it starts. A step on
    a cycle is among its own."""
    reached: dict[str, set[str]] = {}
    for start in graph:
        seen: set[str] = set()
        pending = deque(_edges(graph, start))
        while pending:
            step = pending.popleft()
            if step not in seen:
                seen.add(step)
                pending.extend(_edges(graph, step))
        reached[start] = seen
    return reached


def _shortest_cycle(graph: Graph, start: str, within: set[str]) -> list[str]:
    """The shortest way from ``start`` back to itself by dependencies inside ``within``."""
    came_from: dict[str, str] = {}
    pending = deque([start])
    while pending:
        step = pending.popleft()
        for other in _edges(graph, step):
            if other not in within:
                continue
            if other == start:
                path = [step]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if other not in came_from:
                came_from[other] = step
                pending.append(other)
    raise ValueError(f"{start!r} is on no cycle")


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle for each group of steps that wait for one another, as ids from a step to the step
    it depends on and so on back to the first (``["a", "b", "a"]``: a depends on b, b on a). Each
    starts at its group's first step in the graph's order; empty when the steps can be ordered."""
    reached = upstream(graph)
    found: list[list[str]] = []
    grouped: set[str] = set()
    for step in graph:
        if step in grouped or step not in reached[step]:
            continue
        group = {other for other in reached[step] if step in reached[other]}
        grouped |= group
        found.append(_shortest_cycle(graph, step, group))
    return found
